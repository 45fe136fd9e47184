#!/usr/bin/env bash
# anemosctl deploy --ssh --method kexec from a mirror signed by another key: the deploy fails
# naming the signature, and the host stays in the Anemos environment, reachable with the
# operator's key and its own host key, and a reboot brings the old system back (the disk was
# not touched) (tests/e2e/deploy.test.sh, DEPLOY_SCENARIO=bad-signature; make test does the
# same with --method bootloader).
# Slow (the cloud VM's disk is prepared again): `make test-slow`, not `make test`.
DEPLOY_SCENARIO=bad-signature exec bash "$(dirname "$0")/../e2e/deploy.test.sh"
