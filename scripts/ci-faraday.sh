#!/usr/bin/env bash
# Installs Faraday (PyPI faradaysec), the real vulnerability-management server that
# tests/sinks/test_faraday.py uploads SARIF to, into its own virtualenv: Faraday pins Flask,
# SQLAlchemy, Celery and friends that must not meet secpipe's dependencies.
#
#   scripts/ci-faraday.sh            # venv at ~/.cache/secpipe/peers/faraday
#   FARADAY_VENV=/tmp/f scripts/ci-faraday.sh
#
# PostgreSQL and Redis come from Debian (scripts/ci-tools.sh: apt_install postgresql
# redis-server); the test fixture (tests/sinks/faraday_server.py) starts its own throwaway
# PostgreSQL cluster and Redis on free loopback ports, never a system one. Idempotent and quiet.
set -euo pipefail
FARADAY_VERSION="${FARADAY_VERSION:-5.25.2}"
FARADAY_VENV="${FARADAY_VENV:-$HOME/.cache/secpipe/peers/faraday}"
PYTHON="${PYTHON:-python3}"

if [ -x "$FARADAY_VENV/bin/faraday-server" ] \
   && "$FARADAY_VENV/bin/python" -c "import importlib.metadata as m, sys; \
sys.exit(m.version('faradaysec') != '$FARADAY_VERSION')" 2>/dev/null; then
  exit 0
fi
mkdir -p "$(dirname "$FARADAY_VENV")"
"$PYTHON" -m venv --clear "$FARADAY_VENV"
"$FARADAY_VENV/bin/pip" install -q --disable-pip-version-check "faradaysec==$FARADAY_VERSION"
test -x "$FARADAY_VENV/bin/faraday-server" && test -x "$FARADAY_VENV/bin/faraday-manage"
