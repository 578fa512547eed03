"""The records of bandit tests that raised are collected per thread: two scans running at once
in one process (two scan-code steps of a stage) never get each other's ``code.test-error``."""

from __future__ import annotations

import logging
import threading

from secpipe.scanners.code.bandit_run import BANDIT_LOGGER, BanditRunner


def test_error_records_stay_with_the_thread_that_logged_them() -> None:
    runner = BanditRunner()
    logger = logging.getLogger(BANDIT_LOGGER)
    barrier = threading.Barrier(2)
    got: dict[str, list[str]] = {}

    def scan(name: str) -> None:
        with runner._errors() as errors:
            barrier.wait()  # both threads are collecting now
            logger.error("test %s raised", name)
            barrier.wait()  # both have logged before either stops
        got[name] = errors

    threads = [threading.Thread(target=scan, args=(n,)) for n in ("first", "second")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert got == {"first": ["test first raised"], "second": ["test second raised"]}
    logger.error("logged outside any scan")  # nobody collects it, nothing breaks
