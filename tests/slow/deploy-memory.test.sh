#!/usr/bin/env bash
# The memory floor, measured: anemosctl deploy --ssh of the `cloud` recipe (tiny plus dropbear)
# into the cloud VM booted with 352, 320, 288, 256, 224 and 192 MiB in turn (a copy of
# its disk each time; DEPLOY_MEMORY_STEPS="..." for others), until one fails; prints the
# smallest that passed (tests/e2e/deploy.test.sh, DEPLOY_SCENARIO=memory). Slow (a deploy a
# step): `make test-slow`.
DEPLOY_SCENARIO=memory exec bash "$(dirname "$0")/../e2e/deploy.test.sh"
