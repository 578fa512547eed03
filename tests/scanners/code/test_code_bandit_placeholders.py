"""bandit's "hard-coded password" tests (B105-B107) stay quiet on placeholders and made-up test
values (the secrets scanner's own checks judge them) and still report a value that could be
real, withheld from the message."""

from __future__ import annotations

from pathlib import Path

from code_helpers import RunCode

SOURCE = '''\
HF_TOKEN = "hf_xxx"
API_TOKEN = "sk-****"
DB_PASSWORD = "changeme"
SECRET_KEY = "<your-secret-key>"
PASSWORD = "Qm7!" "vR2#pL9x"
'''
# (two adjacent literals: Python joins them, and no line of this repository holds the value)


def test_b105_skips_placeholders_and_keeps_a_plausible_password(tmp_path: Path,
                                                                run_code: RunCode) -> None:
    (tmp_path / "settings.py").write_text(SOURCE)
    found = [f for f in run_code(tmp_path).findings if f.rule_id == "code.bandit.B105"]
    assert [f.location.line for f in found] == [5]
    assert "vR2#pL9x" not in found[0].message and "withheld" in found[0].message
