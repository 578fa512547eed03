#!/usr/bin/env bash
# Builds the sdist and the wheel, installs the wheel with no extras into a clean virtual
# environment, and checks the CLI works there: what `pip install secpipe` gives a user.
# Called by `make test` (so by CI); takes about 20 s (dependencies come from the package index).
set -euo pipefail
VENV="${VENV:-.venv}"
PY="$(cd "$(dirname "$VENV/bin/python")" && pwd)/python"
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$PY" -m build --sdist --wheel --outdir "$work/dist" . >"$work/build.log" 2>&1 \
  || { cat "$work/build.log" >&2; exit 1; }
wheel="$(ls "$work"/dist/secpipe-*.whl)"
ls "$work"/dist/secpipe-*.tar.gz >/dev/null

# the base interpreter, not the project's venv: nothing of the checkout leaks into the check
base="$("$PY" -c 'import sys; print(sys.base_prefix)')/bin/python3"
"$base" -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel" 2>&1 | grep -v '^WARNING' || true
"$work/venv/bin/python" -c 'import secpipe' # the install itself succeeded

bin="$work/venv/bin/secpipe"
fail() { echo "check-wheel: $*" >&2; exit 1; }
cd "$work"  # away from the checkout's src/
export XDG_CACHE_HOME="$work/cache"  # never the user's OSV database or caches
"$bin" --version | grep -q '^secpipe ' || fail "--version"
"$bin" --help >/dev/null || fail "--help"
for cmd in run scan gate runs report baseline suppress sign verify store init steps db build \
    notify serve; do
  "$bin" "$cmd" --help >/dev/null || fail "$cmd --help"
done
"$bin" steps | grep -q "sign .*secpipe\[provenance\]" || fail "steps does not name the extra"
for sub in web ports host; do
  "$bin" scan "$sub" --help >/dev/null || fail "scan $sub --help"
done
# scan-web needs no extra: the standard library's server on loopback, scanned by the wheel
mkdir -p site
printf '<!doctype html><title>t</title><a href="/a.html?q=1">a</a>\n' >site/index.html
cp site/index.html site/a.html
port="$("$work/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$work/venv/bin/python" -m http.server --bind 127.0.0.1 --directory site "$port" >/dev/null 2>&1 &
site_pid=$!
for _ in $(seq 50); do
  "$work/venv/bin/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/')" \
    2>/dev/null && break
  sleep 0.1
done
set +e
"$bin" scan web "http://127.0.0.1:$port/" -q --json >web.json; web=$?
set -e
kill "$site_pid" 2>/dev/null || true
[ "$web" = 0 ] || [ "$web" = 1 ] || fail "scan web exited $web"
grep -q '"web.missing-header"' web.json || fail "scan web found no missing header on a bare page"
# the monitoring files ship in the wheel (alert rules, dashboard, provisioning)
"$work/venv/bin/python" - <<'PY' || fail "the monitoring files are not in the wheel"
from secpipe.monitoring import ASSETS, asset
missing = [name for name in ASSETS if not asset(name).is_file()]
assert not missing and ASSETS, missing
PY

mkdir -p tree/src
printf 'print("hello")\n' >tree/src/app.py
"$bin" scan secrets tree -q >/dev/null || fail "scan secrets on a clean tree"
# a GitHub token with a valid checksum, built here so no token sits in this file
"$work/venv/bin/python" - >tree/src/leak.py <<'PY'
import binascii, random, string
digits = string.digits + string.ascii_uppercase + string.ascii_lowercase
body = "".join(random.Random(7).choices(string.ascii_letters + string.digits, k=30))
value, check = binascii.crc32(body.encode()), ""
while value:
    value, digit = divmod(value, 62)
    check = digits[digit] + check
print(f'token = "ghp_{body}{check.rjust(6, "0")}"')
PY
set +e
"$bin" scan secrets tree -q >/dev/null; leaked=$?
out="$("$bin" sign tree/src/app.py 2>&1)"; missing=$?
set -e
[ "$leaked" = 1 ] || fail "scan secrets on a leaked token exited $leaked, not 1"
[ "$missing" = 2 ] || fail "sign without the provenance extra exited $missing, not 2"
case "$out" in
  *"needs the 'provenance' extra: pip install 'secpipe[provenance]'"*) ;;
  *) fail "sign without the extra said: $out" ;;
esac

# the dependency scan without vulnerability data is an error that says how to get some
printf 'flask==2.2.4\n' >tree/requirements.txt
set +e
out="$("$bin" scan deps tree 2>&1)"; nodb=$?
set -e
[ "$nodb" = 2 ] || fail "scan deps without a database exited $nodb, not 2"
case "$out" in
  *"secpipe db update"*"secpipe db import"*) ;;
  *) fail "scan deps without a database said: $out" ;;
esac
# one OSV record (the shape of OSV's export), imported as an air-gapped site would
cat >osv-record.json <<'JSON'
{"schema_version": "1.6.0", "id": "GHSA-m2qf-hxjv-5gpq", "modified": "2026-11-20T00:00:00Z",
 "aliases": ["CVE-2023-30861", "PYSEC-2023-62"],
 "summary": "Flask vulnerable to possible disclosure of permanent session cookie",
 "affected": [{"package": {"ecosystem": "PyPI", "name": "flask"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.2.5"}]}]}]}
JSON
export SECPIPE_OSV_DB="$work/osv.sqlite3"
"$bin" db import osv-record.json >/dev/null || fail "db import"
set +e
out="$("$bin" scan deps tree --json -q 2>&1)"; vuln=$?
set -e
[ "$vuln" = 1 ] || fail "scan deps on a vulnerable pin exited $vuln, not 1: $out"
case "$out" in
  *GHSA-m2qf-hxjv-5gpq*2.2.5*) ;;
  *) fail "scan deps did not name the advisory and the fixed version: $out" ;;
esac

# the IaC scanner's parsers (tree-sitter's HCL grammar, dockerfile-parse) come with the core
mkdir -p infra
printf 'resource "aws_security_group" "w" {\n  ingress {\n    from_port = 22\n    to_port = 22\n    protocol = "tcp"\n    cidr_blocks = ["0.0.0.0/0"]\n  }\n}\n' >infra/main.tf
printf 'FROM python:3.11-slim\nRUN curl -fsSL https://get.example.com/i.sh | sh\nUSER 10001\n' >infra/Dockerfile
set +e
out="$("$bin" scan iac infra --json -q 2>&1)"; iac=$?
set -e
[ "$iac" = 1 ] || fail "scan iac exited $iac, not 1: $out"
case "$out" in
  *iac.aws.sg-open-admin-port*iac.docker.remote-script-exec*) ;;
  *iac.docker.remote-script-exec*iac.aws.sg-open-admin-port*) ;;
  *) fail "scan iac did not report the open SSH port and curl | sh: $out" ;;
esac

# a team's project (a Flask app serving a pickled model): init reads it, the built-in pipeline
# runs, and every step either did real work or says plainly that it did not
mkdir -p app/data
printf 'import pickle\nmodel = pickle.load(open("model.pkl", "rb"))\n' >app/app.py
printf 'flask\nscikit-learn\n' >app/requirements.txt
printf 'text,label\nhello,benign\n' >app/data/train.csv
"$work/venv/bin/python" -c 'import pickle; open("app/model.pkl", "wb").write(pickle.dumps({"w": [1, 2]}))'
"$bin" init --yes -q -C app || fail "init --yes"
grep -q '^  require: ' app/secpipe.yaml || fail "init wired no policy.require"
set +e
run="$("$bin" run mlsecops -C app -q 2>&1)"; code=$?
set -e
[ "$code" = 0 ] || fail "run mlsecops exited $code: $run"
case "$run" in
  *"did no work"*"not in mlsecops here"*"secpipe[provenance]"*) ;;
  *) fail "run mlsecops does not say what did no work: $run" ;;
esac
echo "check-wheel: $(basename "$wheel") installs and runs with no extras"
