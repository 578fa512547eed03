"""``scan-host``: OpenSCAP (the SCAP Security Guide's Debian datastream, patched for Debian 12)
and Lynis on the host or a container's root filesystem, results mapped to findings with their
CIS and NIST 800-53 references."""
