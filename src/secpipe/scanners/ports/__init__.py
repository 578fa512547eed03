"""``scan-ports``: the run's deployment (or named hosts) scanned with nmap, open ports judged by
a port policy (:mod:`.policy`), nmap's XML read by the bounded parser (:mod:`.nmap`)."""
