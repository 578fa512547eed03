#!/usr/bin/env bash
# Runs the devsecops pipeline on the example project with the image stages live (called by
# `make demo-devsecops` after set-up): build the serving image with buildah on a Debian 12 base
# made by debootstrap (no registry pulls), scan it, gate, sign it with your own key and push it
# to a local OCI registry (Debian's docker-registry, started here on loopback and stopped at the
# end), then `secpipe verify` the pushed image. Needs root (debootstrap, buildah's chroot),
# buildah and docker-registry (scripts/ci-tools.sh installs them).
#
#   SECPIPE_DEMO_REGISTRY_PORT   loopback port of the demo registry (default 5055)
#
# The configuration used is the example's secpipe.yaml plus the image block its comments show,
# written to examples/request-classifier/.secpipe/devsecops-demo.yaml (the state folder, which
# the scans skip); the registry's data lives in a temporary folder removed at the end.
set -uo pipefail
VENV="${VENV:-.venv}"
EXAMPLE="examples/request-classifier"
PORT="${SECPIPE_DEMO_REGISTRY_PORT:-5055}"
REGISTRY="127.0.0.1:$PORT"
BASE="${SECPIPE_BASE_IMAGE:-$HOME/.cache/secpipe/base-images/base}"

# the tools, when missing and we are root: buildah as CI installs it, Debian's registry, debootstrap
if [ "$(id -u)" = 0 ]; then
  bash scripts/ci-buildah.sh >/dev/null || exit 2
  for pkg in docker-registry debootstrap; do
    dpkg -s "$pkg" >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "$pkg" >/dev/null || exit 2
  done
fi
for tool in buildah docker-registry; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "demo-devsecops: $tool not found (scripts/ci-tools.sh installs it, as root)" >&2; exit 2; }
done
bash scripts/base-image.sh "$BASE" || exit 2

# the example's data, model and OSV database, as `make demo` makes them
"$VENV/bin/python" "$EXAMPLE/build_dataset.py" --out "$EXAMPLE/data" >/dev/null || exit 2
"$VENV/bin/python" "$EXAMPLE/train.py" >/dev/null || exit 2
# (PyPI and npm records, plus Debian 12 and Alpine records modelled on real ones for the image)
"$VENV/bin/secpipe" db import tests/fixtures/osv tests/fixtures/osv-distro \
  --database "$EXAMPLE/.secpipe/osv.sqlite3" >/dev/null || exit 2

DATA="$(mktemp -d "${TMPDIR:-/tmp}/secpipe-demo-registry.XXXXXX")"
mkdir -p "$DATA/blobs"
printf '{"version": 0.1, "log": {"level": "warn"}, "storage": {"filesystem": {"rootdirectory": "%s"}}, "http": {"addr": "%s"}}\n' \
  "$DATA/blobs" "$REGISTRY" >"$DATA/registry.yml"
docker-registry serve "$DATA/registry.yml" >"$DATA/registry.log" 2>&1 &
REG_PID=$!
cleanup() { kill "$REG_PID" 2>/dev/null; wait "$REG_PID" 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT
for _ in $(seq 50); do
  "$VENV/bin/python" -c "import urllib.request as u; u.urlopen('http://$REGISTRY/v2/', timeout=1)" \
    2>/dev/null && break
  sleep 0.2
done

CONFIG="$EXAMPLE/.secpipe/devsecops-demo.yaml"
mkdir -p "$EXAMPLE/.secpipe"
{ cat "$EXAMPLE/secpipe.yaml"
  printf '  build-image:\n    base: oci:%s:bookworm\n    tag: localhost/request-classifier:latest\n' "$BASE"
  printf '  sign:\n    reference: %s/request-classifier\n' "$REGISTRY"
  printf '  store:\n    registry: http://%s\n    tag: latest\n' "$REGISTRY"
} >"$CONFIG"

"$VENV/bin/secpipe" run devsecops -C "$EXAMPLE" -c "$CONFIG"
code=$?
case $code in
  0) PUB="${XDG_CONFIG_HOME:-$HOME/.config}/secpipe/keys/signing.pem.pub"
     echo "demo-devsecops: the pipeline passed; verifying the pushed image with $PUB"
     "$VENV/bin/secpipe" verify "oci://$REGISTRY/request-classifier:latest" --key "$PUB" \
       --insecure --require-attestation
     code=$? ;;
  1) echo "demo-devsecops: a gate failed (exit 1), as it should on the example's planted" \
          "problems (README 1-10). Suppress each with a reason (secpipe suppress FINGERPRINT" \
          "--reason '…' -C $EXAMPLE) and run make demo-devsecops again: the image is then" \
          "built, scanned, signed, pushed and verified." ;;
  *) echo "demo-devsecops: the pipeline could not complete (exit $code)." ;;
esac
exit $code
