"""Keyless (Sigstore) signing: only what runs offline. Settings validation, a clear one-line
error (fast, no hang) when Sigstore cannot be reached, and that verification needs ``identity`` and
``oidc_issuer``. Network access is cut off by pointing HTTP(S) proxies at a closed loopback port,
so nothing leaves the machine."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest

from secpipe.cli.main import main
from secpipe.core.errors import ConfigError, StepError
from secpipe.core.step import StepContext
from secpipe.keys.refs import SecretResolver
from secpipe.keys.signers import LocalKeyFile, SigstoreIdentity, trusted_public_key
from secpipe.pipeline.validation import validate_settings
from secpipe.provenance import check
from secpipe.provenance.check import verify_all
from secpipe.provenance.keyless import with_deadline
from secpipe.provenance.modelsig import sign_model
from secpipe.provenance.policy import parse_policy
from secpipe.provenance.sign_step import SignSettings, SignStep
from secpipe.provenance.verify_step import VerifyStep

ISSUER = "https://oauth2.sigstore.dev/auth"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def fake_token() -> str:
    """A well-formed, current (but unsigned) Sigstore OIDC token: passes the local checks."""
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "sigstore", "sub": "ci", "email": "ci@example.com",
              "email_verified": True, "iat": now, "nbf": now, "exp": now + 600}
    return f"{_b64({'alg': 'RS256'})}.{_b64(claims)}.c2ln"


@pytest.fixture
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No network, and Sigstore's TUF cache under a temporary HOME."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(name, str(home))
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "project" / "model.bin"
    path.parent.mkdir()
    path.write_bytes(b"weights" * 100)
    return path


def ctx_for(model: Path) -> StepContext:
    root = model.parent
    return StepContext(project_root=root, workdir=root / "out", run_id="r1", pipeline="p",
                       step_id="sign", secrets=SecretResolver(root))


def one_line(message: str) -> bool:
    return "\n" not in message and 0 < len(message) < 400


@pytest.mark.parametrize(("data", "expected"), [
    ({"key": "sigstore"}, "attest"),
    ({"key": "sigstore", "attest": False}, "identity_token"),
    ({"key": "sigstore", "attest": False, "identity_token": "t", "public_key": "k.pub"},
     "public_key"),
    ({"key": "sigstore", "attest": False, "identity_token": "t", "key_password": "pw"},
     "key_password"),
    ({"identity_token": "${env:TOKEN}"}, "identity_token"),
    ({"key": "file:k.pem", "use_staging": True}, "use_staging"),
])
def test_bad_keyless_sign_settings_are_config_errors_naming_the_key(
        data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate_settings(SignStep, data, "steps.sign")
    assert "key" in err.value.message and expected in err.value.message
    assert one_line(err.value.message)


def test_good_keyless_settings_validate() -> None:
    settings = validate_settings(SignStep, {
        "key": "sigstore", "attest": False, "identity_token": "${env:SIGSTORE_ID_TOKEN}",
        "use_staging": True, "sigstore_timeout": 5}, "steps.sign")
    assert isinstance(settings, SignSettings) and settings.keyless
    verify = validate_settings(VerifyStep, {"key": "sigstore", "identity": "ci@example.com",
                                            "oidc_issuer": ISSUER}, "steps.verify")
    assert verify.options().identity == "ci@example.com"  # type: ignore[attr-defined]


def test_identity_without_key_sigstore_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"identity.*only apply to key: sigstore"):
        validate_settings(VerifyStep, {"identity": "ci@example.com"}, "steps.verify")


def test_sign_without_network_is_a_fast_one_line_error(offline: None, model: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGSTORE_ID_TOKEN", fake_token())
    settings = SignSettings(key="sigstore", attest=False, sbom=False, model=str(model),
                            identity_token="${env:SIGSTORE_ID_TOKEN}", sigstore_timeout=5)
    started = time.monotonic()
    with pytest.raises(StepError) as err:
        SignStep().run(ctx_for(model), settings)
    assert time.monotonic() - started < 10
    assert err.value.message.startswith("keyless signing of model.bin: ")
    assert one_line(err.value.message) and "network" in (err.value.hint or "")
    assert fake_token()[:20] not in err.value.message
    assert not (model.parent / "out" / "model.sig").exists()  # nothing half-written


def test_a_malformed_token_is_refused_before_any_network_call(offline: None, model: Path) -> None:
    settings = SignSettings(key="sigstore", attest=False, sbom=False, model=str(model),
                            identity_token="not-a-jwt", sigstore_timeout=5)
    with pytest.raises(ConfigError, match="identity_token is not a usable OIDC identity token"):
        SignStep().run(ctx_for(model), settings)


def test_keyless_key_from_a_reference_is_checked_when_resolved(
        model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNING_KEY", "sigstore")
    settings = SignSettings(key="${env:SIGNING_KEY}", model=str(model))  # attest defaults true
    with pytest.raises(ConfigError, match=r"sign\.with: key: sigstore .*attest: false"):
        SignStep().run(ctx_for(model), settings)


def test_a_sigstore_call_that_hangs_ends_at_the_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(StepError, match=r"no answer from Sigstore within 0.2s"):
        with_deadline("keyless signing of m", 0.2, lambda: time.sleep(5))
    assert time.monotonic() - started < 2


def test_keyless_verification_needs_identity_and_issuer(tmp_path: Path) -> None:
    resolver = SecretResolver(tmp_path)
    with pytest.raises(ConfigError, match="needs identity and oidc_issuer"):
        trusted_public_key("sigstore", None, tmp_path, resolver)
    with pytest.raises(ConfigError, match="needs oidc_issuer") as err:
        trusted_public_key("sigstore", None, tmp_path, resolver,
                           SignSettings(key="sigstore", attest=False, identity_token="t",
                                        identity="ci@example.com").options())
    assert one_line(err.value.message)
    trust = trusted_public_key("sigstore", None, tmp_path, resolver,
                               VerifyStep.Settings(key="sigstore", identity="ci@example.com",
                                                   oidc_issuer=ISSUER).options())
    assert trust == SigstoreIdentity("ci@example.com", ISSUER)


def test_verify_step_without_identity_is_a_config_error(model: Path) -> None:
    (model.parent / "model.sig").write_text("{}")
    settings = VerifyStep.Settings(key="sigstore", model=str(model), signature="model.sig")
    with pytest.raises(ConfigError, match="key sigstore: verifying a keyless signature needs"):
        VerifyStep().run(ctx_for(model), settings)


def test_cli_verify_key_sigstore_without_identity_exits_2(model: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    assert main(["verify", str(model), "-C", str(model.parent), "--key", "sigstore",
                 "--oidc-issuer", ISSUER]) == 2
    assert "needs identity" in capsys.readouterr().err


def test_a_key_signed_bundle_is_not_accepted_as_keyless(model: Path, tmp_path: Path) -> None:
    signed = sign_model(model, tmp_path / "model.sig", LocalKeyFile(tmp_path / "k.pem"))
    report = verify_all(model, signed.signature, SigstoreIdentity("ci@example.com", ISSUER),
                        None)
    assert not report.passed
    assert "was made with a key, not keyless" in report.failures[0]


def test_keyless_verification_without_network_is_an_error_not_a_pass(
        offline: None, model: Path, tmp_path: Path) -> None:
    signature = tmp_path / "model.sig"
    signature.write_text(json.dumps({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"certificate": {"rawBytes": "AAAA"}, "tlogEntries": []},
        "dsseEnvelope": {"payload": "", "payloadType": "application/vnd.in-toto+json",
                         "signatures": []}}))
    started = time.monotonic()
    with pytest.raises(StepError) as err:
        verify_all(model, signature, SigstoreIdentity("ci@example.com", ISSUER, timeout=5), None)
    assert time.monotonic() - started < 10
    assert err.value.message.startswith("keyless verification of model.sig: ")
    assert one_line(err.value.message)


def test_a_policy_over_a_keyless_run_fails_for_lack_of_an_attestation(
        model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stand-in for a signature that verified (that part needs Sigstore): what follows is offline.
    monkeypatch.setattr(check, "verify_keyless", lambda *a: {".": "ab" * 32})
    trust = SigstoreIdentity("ci@example.com", ISSUER)
    report = verify_all(model, tmp_path / "model.sig", trust, None,
                        parse_policy(["scan-models passed"]))
    assert report.failures == ("a policy was given but keyless signing (key: sigstore) writes "
                               "no attestation to check it against",)
    stray = tmp_path / "attestation.dsse.json"
    stray.write_text("{}")
    report = verify_all(model, tmp_path / "model.sig", trust, stray)
    assert not report.passed and "not attested" in report.failures[0]
    assert verify_all(model, tmp_path / "model.sig", trust, None).passed
