#!/usr/bin/env bash
# Installs buildah for the build-image step's tests (tests/delivery, marked `external`).
# Called by CI (the lead wires it into scripts/ci-tools.sh / .ci/run); idempotent and quiet.
#
# buildah runs daemonless here: `--isolation chroot` needs no OCI runtime, the `vfs` storage
# driver needs no fuse-overlayfs, so the recommended packages (runc/crun, fuse-overlayfs) are
# left out. golang-github-containers-common (a dependency) brings /etc/containers/policy.json,
# which `buildah pull` and `buildah push` read. Nothing is pulled from a public registry.
set -euo pipefail

if command -v buildah >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ci-buildah: need root to install buildah (apt-get install buildah)" >&2
  exit 1
fi
if [ ! -f /tmp/.secpipe-apt-updated ]; then
  apt-get update -qq && touch /tmp/.secpipe-apt-updated
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah >/dev/null
buildah --version
