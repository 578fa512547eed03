"""The scanner never crashes on hostile input: random bytes, random text, broken containers."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from secrets_helpers import scan

_PREFIXES = ["PK\x03\x04", "\x1f\x8b", "BZh9", "{\"cells\": [", "-----BEGIN PRIVATE KEY-----\n",
             "ghp_", "eyJ", "password = ", "postgres://u:", "xoxb-", "AKIA"]
EXAMPLES = int(os.environ.get("SECPIPE_FUZZ_EXAMPLES", "150"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash(data: bytes) -> None:
    result = scan(data)
    assert result.skipped is None or isinstance(result.skipped, str)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.sampled_from(_PREFIXES), st.text(max_size=2048))
def test_random_text_after_a_trigger_never_crashes(prefix: str, text: str) -> None:
    result = scan((prefix + text).encode("utf-8", "surrogatepass"))
    for hit in result.hits:
        assert "****" in hit.evidence
