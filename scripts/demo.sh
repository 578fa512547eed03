#!/usr/bin/env bash
# Runs the mlsecops pipeline on the example project (called by `make demo` after set-up).
set -uo pipefail
VENV="${VENV:-.venv}"
EXAMPLE="examples/request-classifier"
# the project's own scripts, as its authors run them: the data, and the pickled artifacts that
# its app loads (the model-scan stage reports those pickles)
"$VENV/bin/python" "$EXAMPLE/build_dataset.py" --out "$EXAMPLE/data" >/dev/null || exit 2
"$VENV/bin/python" "$EXAMPLE/train.py" >/dev/null || exit 2
# the dependency scan needs OSV data: OSV's feed is not reachable from every machine, so the demo
# fills the example's own database (secpipe.yaml: scan-deps.database) from the fixture set
"$VENV/bin/secpipe" db import tests/fixtures/osv --database "$EXAMPLE/.secpipe/osv.sqlite3" \
  >/dev/null || exit 2
"$VENV/bin/secpipe" run mlsecops -C "$EXAMPLE"
code=$?
case $code in
  0) echo "demo: the pipeline passed." ;;
  1) echo "demo: a gate failed (exit 1), as it should on the example's planted problems." \
          "See $EXAMPLE/README.md for what is planted and how to suppress a finding with a reason." ;;
  *) echo "demo: the pipeline could not complete (exit $code)." ;;
esac
exit $code
