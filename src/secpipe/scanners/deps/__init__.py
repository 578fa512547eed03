"""The dependency scanner (``scan-deps``): manifests and installed environments read into one
inventory, matched against a local OSV database, and judged by a licence policy."""
