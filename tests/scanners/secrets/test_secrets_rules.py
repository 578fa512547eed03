"""Every rule finds its positive sample and reports none of the decoys; validators and filters."""

from __future__ import annotations

import random

import pytest
from secrets_helpers import rule_ids, scan
from secrets_samples import SAMPLES, crc_token, jwt

from secpipe.scanners.secrets import checks
from secpipe.scanners.secrets.rules import all_rules

RULE_IDS = sorted(r.rule_id for r in all_rules())


def test_rule_table_has_at_least_40_unique_kinds() -> None:
    assert len(RULE_IDS) >= 40
    assert len(set(RULE_IDS)) == len(RULE_IDS)
    assert all(r.keywords or r.trigger for r in all_rules())
    assert all(k == k.lower() for r in all_rules() for k in r.keywords)


def test_every_rule_has_a_positive_and_a_negative_sample() -> None:
    assert sorted(SAMPLES) == RULE_IDS


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_finds_its_true_positive(rule_id: str) -> None:
    rng = random.Random(rule_id)
    for _ in range(3):  # several random draws of the same format
        text = "import os\n\n" + SAMPLES[rule_id][0](rng)
        assert rule_id in rule_ids(text), text


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_decoy_is_not_reported(rule_id: str) -> None:
    rng = random.Random(rule_id)
    text = "import os\n\n" + SAMPLES[rule_id][1](rng)
    assert rule_ids(text) == [], text


def test_secret_line_and_column_are_reported() -> None:
    token = crc_token(random.Random(1), "ghp_")
    hit = scan(f"a = 1\nb = 2\n    token = '{token}'\n").hits[0]
    assert (hit.line, hit.column) == (3, 14)
    assert hit.key == checks.sha256_hex(token)


def test_github_checksum_is_verified() -> None:
    rng = random.Random(2)
    good, bad = crc_token(rng, "ghp_"), crc_token(rng, "ghp_", good=False)
    assert checks.crc32_base62(good, 4)
    assert not checks.crc32_base62(bad, 4)


def test_jwt_needs_a_json_header_with_alg() -> None:
    rng = random.Random(3)
    assert checks.jwt_header_ok(jwt(rng))
    assert not checks.jwt_header_ok(jwt(rng, header={"typ": "JWT"}))
    assert not checks.jwt_header_ok("eyJ" + "x" * 30)


def test_hashes_uuids_lockfile_integrity_and_git_shas_are_not_reported() -> None:
    rng = random.Random(4)
    hexs = lambda n: "".join(rng.choice("0123456789abcdef") for _ in range(n))  # noqa: E731
    b64 = checks.redact  # keep a name; values are built below
    assert b64
    integrity = "sha512-" + "A" * 10 + "".join(rng.choice("abcdefXYZ0123+/") for _ in range(76))
    text = "\n".join([
        f'api_token_md5 = "{hexs(32)}"',
        f'SECRET_KEY_SHA256 = "{hexs(64)}"',
        f'password_hash = "$2b$12${"a1B2c3" * 9}"',
        f'"integrity": "{integrity}=="',
        f"requests==2.31.0 --hash=sha256:{hexs(64)}",
        f'token_commit = "{hexs(40)}"',
        f'auth_token_id = "{hexs(8)}-{hexs(4)}-{hexs(4)}-{hexs(4)}-{hexs(12)}"',
        f"git checkout {hexs(40)}",
    ])
    assert rule_ids(text) == []


def test_placeholders_and_references_are_not_reported() -> None:
    text = "\n".join([
        'password = "<your-password>"', "password: ${DB_PASSWORD}",
        'api_key = "xxxxxxxxxxxxxxxxxxxx"',
        'secret = "{{ vault_secret }}"', "token = os.environ['API_TOKEN']",
        "client_secret = get_secret('client')", 'db_password = "changeme123"',
        "API_TOKEN=$API_TOKEN", "password = self.password_from_config",
    ])
    assert rule_ids(text) == []


def test_redaction_never_shows_a_whole_secret() -> None:
    for secret in ("short", "medium-length1", "x" * 40):
        shown = checks.redact(secret)
        assert secret not in shown
        assert "****" in shown


def test_pure_python_prefilter_finds_the_same_as_re2(monkeypatch: pytest.MonkeyPatch) -> None:
    from secpipe.scanners.secrets import detect

    rng = random.Random(5)
    text = "".join(SAMPLES[rule][0](rng) for rule in RULE_IDS) + "caf\u00e9 = 1\n"
    with_re2 = [(c.rule.id, c.start) for c in detect.Detector().find(text)]
    monkeypatch.setattr(detect, "_re2", None)
    without = [(c.rule.id, c.start) for c in detect.Detector().find(text)]
    assert without == with_re2
    assert len(with_re2) >= len(RULE_IDS)
