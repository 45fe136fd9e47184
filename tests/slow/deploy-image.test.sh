#!/usr/bin/env bash
# anemosctl deploy --ssh with an image's URL as SOURCE (--sha256): the cloud VM streams the
# prebuilt `cloud` image from a loopback server itself, nothing is built, and comes back with
# the name given, its addresses and its host key (tests/e2e/deploy.test.sh,
# DEPLOY_SCENARIO=image). Slow (the cloud VM's disk is prepared again): `make test-slow`.
DEPLOY_SCENARIO=image exec bash "$(dirname "$0")/../e2e/deploy.test.sh"
