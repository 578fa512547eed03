#!/usr/bin/env bash
# Installs Wapiti (PyPI wapiti3), the DAST peer: the scan-web adapter's test
# (tests/scanners/web/test_wapiti.py) runs it, and benchmarks/dast compares secpipe with it.
# Its own virtualenv: Wapiti pins httpx, SQLAlchemy, aiosqlite and friends that must not meet
# secpipe's dependencies. secpipe finds it there (scan-web's `wapiti_path`, else PATH, else this
# venv).
#
#   scripts/ci-wapiti.sh            # venv at ~/.cache/secpipe/peers/wapiti
#   WAPITI_VENV=/tmp/w scripts/ci-wapiti.sh
set -euo pipefail
WAPITI_VERSION="${WAPITI_VERSION:-3.2.3}"   # the newest on the PyPI this machine reaches
WAPITI_VENV="${WAPITI_VENV:-$HOME/.cache/secpipe/peers/wapiti}"
PYTHON="${PYTHON:-python3}"

if [ -x "$WAPITI_VENV/bin/wapiti" ] \
   && "$WAPITI_VENV/bin/python" -c "import importlib.metadata as m, sys; \
sys.exit(m.version('wapiti3') != '$WAPITI_VERSION')" 2>/dev/null; then
  exit 0
fi
mkdir -p "$(dirname "$WAPITI_VENV")"
"$PYTHON" -m venv --clear "$WAPITI_VENV"
"$WAPITI_VENV/bin/pip" install -q --disable-pip-version-check "wapiti3==$WAPITI_VERSION"
test -x "$WAPITI_VENV/bin/wapiti"
