"""Web findings as secpipe findings: rule ids, stable fingerprints, bounded and redacted
evidence, replay commands."""

from __future__ import annotations

import shlex

from secpipe.core.findings import Finding, Severity
from secpipe.scanners.web.evidence import MAX_EVIDENCE, replay, to_finding
from secpipe.scanners.web.model import Exchange, Request, Response, WebFinding

TOKEN = "tok" + "-4f9a8b7c6d5e"


def _exchanges(finding: Finding) -> str:
    """The whole rendered exchanges (the finding's one-line evidence is the proof)."""
    return dict(finding.properties).get("exchanges", "")


def _finding(url: str, body: bytes = b"<p>sp0123456789<script>", **kw: object) -> WebFinding:
    request = Request("POST", url, (("Authorization", f"Bearer {TOKEN}"),
                                    ("Cookie", "sid=abc123456"),
                                    ("Content-Type", "application/x-www-form-urlencoded")),
                      b"q=%3Cscript%3E&n=1")
    response = Response(200, "OK", (("Content-Type", "text/html"),
                                    ("Set-Cookie", "sid=zzz999888; HttpOnly")), body,
                        elapsed=0.01, url=url)
    values: dict[str, object] = dict(
        kind="xss-reflected", title="Reflected XSS", severity=Severity.HIGH, url=url,
        message="the canary came back unescaped", method="POST", param="q",
        evidence=(Exchange(request, response),), proof="sp0123456789<script>", cwe="CWE-79")
    values.update(kw)
    return WebFinding(**values)  # type: ignore[arg-type]


def _redact(text: str) -> str:
    return text.replace(TOKEN, "***")


def test_rule_location_tags_and_properties() -> None:
    finding = to_finding(_finding("http://127.0.0.1:8080/search?x=1"), _redact)
    assert finding.rule_id == "web.xss-reflected" and finding.scanner == "scan-web"
    assert finding.location.path == "/search" and finding.location.member == "POST q"
    assert finding.tags == ("CWE-79", "OWASP-A03:2021")
    props = dict(finding.properties)
    assert props["kind"] == "xss-reflected" and props["route"] == "/search"
    assert props["method"] == "POST" and props["param"] == "q"
    assert props["url"] == "http://127.0.0.1:8080/search?x=1"
    assert props["replay"].startswith("curl ")
    assert "parameterised" not in finding.remediation and "Encode" in finding.remediation


def test_fingerprint_is_stable_across_ports_and_queries() -> None:
    a = to_finding(_finding("http://127.0.0.1:8080/search?x=1"), _redact)
    b = to_finding(_finding("http://127.0.0.1:9999/search?y=2"), _redact)
    c = to_finding(_finding("http://127.0.0.1:8080/other"), _redact)
    d = to_finding(_finding("http://127.0.0.1:8080/search", param="n"), _redact)
    assert a.fingerprint == b.fingerprint
    assert len({a.fingerprint, c.fingerprint, d.fingerprint}) == 3


def test_secrets_and_auth_headers_never_shown() -> None:
    finding = to_finding(_finding("http://127.0.0.1:1/s", body=f"echo {TOKEN}".encode()),
                         _redact, auth_headers=("Authorization",))
    text = finding.evidence + finding.message + str(dict(finding.properties))
    assert TOKEN not in text
    assert "abc123456" not in text and "zzz999888" not in text
    assert "Authorization: ***" in _exchanges(finding) and "Cookie: ***" in _exchanges(finding)
    assert "sp0123456789" in _exchanges(finding)


def test_replay_is_a_quoted_curl_command() -> None:
    wf = _finding("http://127.0.0.1:1/s?a=1&b=it's")
    command = replay(wf.evidence[0].request, _redact, ("Authorization",))
    words = shlex.split(command)
    assert words[:3] == ["curl", "-sS", "-i"]
    assert words[words.index("-X") + 1] == "POST"
    assert "Authorization: ***" in words and "Cookie: ***" in words
    assert words[words.index("--data-binary") + 1] == "q=%3Cscript%3E&n=1"
    assert words[-1] == "http://127.0.0.1:1/s?a=1&b=it's"
    assert TOKEN not in command
    get = replay(Request("GET", "http://h/x"), _redact, ("X-Api-Token",))
    assert shlex.split(get) == ["curl", "-sS", "-i", "-H", "X-Api-Token: ***", "http://h/x"]


def test_evidence_is_bounded_and_escaped() -> None:
    body = b"A" * 3_000_000 + b"\x1b[31m sp0123456789<script>" + b"B" * 100_000
    finding = to_finding(_finding("http://127.0.0.1:1/big", body=body), _redact)
    assert len(_exchanges(finding)) <= MAX_EVIDENCE + 100
    assert "\x1b" not in _exchanges(finding) and "\\x1b" in _exchanges(finding)
    assert "sp0123456789<script>" in _exchanges(finding)  # the excerpt is around the proof


def test_a_secret_at_the_excerpt_edge_is_not_half_shown() -> None:
    body = b"A" * 5000 + TOKEN.encode() + b"sp0123456789<script>" + b"B" * 5000
    finding = to_finding(_finding("http://127.0.0.1:1/big", body=body), _redact)
    assert TOKEN[4:] not in finding.evidence + _exchanges(finding)


def test_no_response_is_stated() -> None:
    wf = _finding("http://127.0.0.1:1/x", evidence=(
        Exchange(Request("GET", "http://127.0.0.1:1/x"), Response(0, error="timeout")),))
    finding = to_finding(wf, _redact)
    assert "no response: timeout" in _exchanges(finding)


def test_credentials_a_response_leaks_are_masked_in_the_kept_evidence() -> None:
    # a .env the target serves holds keys the run never resolved: the secrets scanner's rules
    # mask them in the exchanges kept in the run store and the reports
    key_id = "AKIA" + "Q3EGTRX7ZK2NWPB5"
    password = "".join(("Zx8kq2LmP9", "vRt4Wq7Ny3"))
    body = f"AWS_ACCESS_KEY_ID={key_id}\nDB_PASSWORD={password}\n".encode()
    wf = _finding("http://127.0.0.1:8080/.env", body=body, kind="debug-endpoint",
                  proof=f"AWS_ACCESS_KEY_ID={key_id}")
    finding = to_finding(wf, _redact)
    kept = _exchanges(finding) + finding.evidence
    assert key_id not in kept and password not in kept
    # masked, not dropped: the reader sees which keys leaked
    assert "AWS_ACCESS_KEY_ID=***" in _exchanges(finding)
    assert "DB_PASSWORD=***" in _exchanges(finding)


def test_leaked_credentials_are_masked_in_every_kept_text_and_the_excerpt_centres_on_them() -> None:
    # review 16 item 4: a leaked config far into a big page; the proof is masked, so the
    # excerpt must find the masked proof (not fall back to the first raw characters)
    db_pw = "Qm7" + "xTr2pLw9"
    session = "s3ss" + "ionV4lue8812"
    dsn_pw = "Pg" + "Pw4471zz"
    config = (f"DB_PASSWORD={db_pw}\nSESSION_SECRET={session}\n"
              f"DATABASE_URL=postgres://app:{dsn_pw}@db:5432/app\n")
    body = ("<p>" + "filler text " * 800 + "</p>\n" + config + "<p>" + "more " * 800).encode()
    key_id = "AKIA" + "Z7Q3EGTRX2NWPB5K"
    url = f"http://127.0.0.1:8080/debug?api_key={key_id}&page=1"
    wf = _finding(url, body=body, kind="debug-endpoint", proof=config.strip(),
                  message=f"the page shows DB_PASSWORD={db_pw}",
                  detail=f"token={session}",
                  evidence=(Exchange(Request("GET", url),
                                     Response(200, "OK", (("Content-Type", "text/html"),),
                                              body, url=url)),))
    finding = to_finding(wf, _redact)
    props = dict(finding.properties)
    everything = " ".join([_exchanges(finding), finding.evidence, finding.message,
                           props["replay"], props["url"], props.get("detail", "")])
    for secret in (db_pw, session, dsn_pw, key_id[4:]):
        assert secret not in everything, secret
    exchanges = _exchanges(finding)
    # the excerpt is the leaked block (masked), not the first 1,200 characters of filler
    assert "DB_PASSWORD=***" in exchanges.split("--- exchange ---")[1]
    assert "SESSION_SECRET=***" in exchanges.split("--- exchange ---")[1]
    assert "page=1" in props["replay"] and "api_key=***" in props["url"]


def test_probe_canaries_stay_readable_when_masking() -> None:
    # a canary reflected in a token-like field is the proof: it must stay visible
    canary = "sp0123456789<script>"
    body = f"<input name=token value={canary}>".encode() + b"x" * 3000
    finding = to_finding(_finding("http://127.0.0.1:1/f", body=body, proof=canary), _redact)
    assert f"value={canary}" in _exchanges(finding)
    assert canary in finding.evidence
