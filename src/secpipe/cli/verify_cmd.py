"""``secpipe verify``: check a model's signature, attestation and a policy — a local model, or a
run published in a store — or a container image in an OCI registry before deploy
(``secpipe verify oci://HOST/REPO@sha256:… --key PUB``)."""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from secpipe.cli.common import open_project, print_json
from secpipe.cli.sign_cmd import add_key_options, key_options
from secpipe.cli.store_cmd import add_store_options, store_from_args
from secpipe.core import exitcodes
from secpipe.core.errors import InputError, require_extra
from secpipe.keys.refs import SecretResolver
from secpipe.keys.signers import SigstoreIdentity, trusted_public_key
from secpipe.provenance.check import VerifyReport, verify_all
from secpipe.provenance.policy import parse_policy
from secpipe.stores.manifest import fetch, resolve_run, run_prefix


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "verify", parents=[common], help="verify a signed model, its attestation and a policy",
        description="Verify a model's signature (and attestation) with a trusted key; with "
        "--policy, require facts of the attested run, e.g. --policy 'scan-models passed'. "
        "MODEL is a local file or folder; or use --run to verify a run published in a store "
        "(every file's digest is checked too). An image is named oci://HOST/REPO@sha256:… or "
        "oci://HOST/REPO:TAG: its cosign-format signature in the registry must verify with "
        "--key (a public key file or a key reference) and name that digest and HOST/REPO. "
        "Exit 0 verified, 1 verification failed, 2 error.",
    )
    p.add_argument("model", nargs="?", metavar="MODEL|IMAGE-REF",
                   help="model file or folder (omit with --run), or oci://HOST/REPO@DIGEST|:TAG")
    p.add_argument("--signature", metavar="FILE", help="signature bundle (default: MODEL.sig)")
    p.add_argument("--attestation", metavar="FILE", help="attestation (DSSE envelope)")
    p.add_argument("--sbom", metavar="FILE", help="SBOM whose digest the attestation binds")
    p.add_argument("--public-key", metavar="PEM", help="trusted public key file")
    p.add_argument("--policy", action="append", default=[], metavar="REQ",
                   help="requirement such as 'scan-models passed' or 'gates passed' (repeatable)")
    p.add_argument("--run", metavar="RUN", help="verify this published run ('latest' or an id)")
    p.add_argument("--pipeline", default="mlsecops", help="pipeline of --run (default mlsecops)")
    add_key_options(p)
    p.add_argument("--identity", metavar="ID",
                   help="--key sigstore: the signer identity the certificate must carry")
    p.add_argument("--oidc-issuer", metavar="URL",
                   help="--key sigstore: the OIDC issuer the certificate must name")
    p.add_argument("--insecure", action="store_true",
                   help="image: talk to the registry over plain HTTP (a loopback registry)")
    p.add_argument("--require-attestation", action="store_true",
                   help="image: also require a signed scan attestation for the digest")
    add_store_options(p)
    p.set_defaults(func=run)


_IMAGE_REF = re.compile(r"^oci://(?P<host>[^/@\s]+)/(?P<repo>[^@:\s]+)"
                        r"(?:@(?P<digest>sha256:[0-9a-f]{64})|:(?P<tag>[A-Za-z0-9_][A-Za-z0-9._-]"
                        r"{0,127}))$")


def parse_image_ref(ref: str) -> tuple[str, str, str]:
    """``(host, repository, digest-or-tag)`` of ``oci://HOST/REPO@sha256:…`` or
    ``oci://HOST/REPO:TAG``; an :class:`InputError` for anything else."""
    match = _IMAGE_REF.match(ref.strip())
    if match is None:
        raise InputError(f"{ref[:160]!r} is not an image reference",
                         hint="write oci://HOST[:PORT]/REPO@sha256:HEX or oci://HOST/REPO:TAG")
    return match["host"], match["repo"], match["digest"] or match["tag"]


def _image_public_key(args: argparse.Namespace, project: Any,
                      resolver: SecretResolver) -> bytes:
    """The trusted key: --public-key, else --key as a PEM public key file, else the public half
    of the key --key names."""
    if args.key and not args.public_key:
        path = Path(resolver.resolve(args.key, "key").removeprefix("file:")).expanduser()
        path = path if path.is_absolute() else project.root / path
        try:
            head = path.read_bytes()[:64] if path.is_file() else b""
        except OSError:
            head = b""
        if head.startswith(b"-----BEGIN PUBLIC KEY-----"):
            return path.read_bytes()
    public = trusted_public_key(args.key, args.public_key, project.root, resolver,
                                key_options(args), project.config.state_dir)
    if isinstance(public, SigstoreIdentity):
        raise InputError("keyless (sigstore) image signatures are not supported: verify with "
                         "--key PUBLIC-KEY-FILE")
    return public


def _verify_image(args: argparse.Namespace) -> int:
    from secpipe.images.signing import verify_image

    host, repo, ref = parse_image_ref(args.model)
    project = open_project(args)
    resolver = SecretResolver(project.root)
    public = _image_public_key(args, project, resolver)
    result = verify_image(host, repo, ref, public, insecure=args.insecure,
                          require_attestation=args.require_attestation)
    if args.json:
        print_json({"verified": result.passed, "what": result.reference,
                    "digest": result.digest, "checked": list(result.checked),
                    "valid_signatures": list(result.valid_signatures),
                    "failures": [] if result.passed else list(result.problems),
                    "attestation": dict(result.attestation) if result.attestation else None})
    elif result.passed:
        sys.stdout.write(f"verified image {result.reference}: {len(result.valid_signatures)} "
                         "valid signature(s)"
                         + (", scan attestation checked" if result.attestation else "")
                         + "\n")
    else:
        sys.stdout.write(f"verification FAILED for image {result.reference}\n")
        for problem in result.problems:
            sys.stdout.write(f"  fail: {problem}\n")
    return exitcodes.PASSED if result.passed else exitcodes.GATE_FAILED


def run(args: argparse.Namespace) -> int:
    require_extra("secpipe verify", "provenance")
    if args.model and args.model.startswith("oci://"):
        if args.run:
            raise InputError("--run verifies a published run, not an image reference")
        return _verify_image(args)
    project = open_project(args)
    requirements = parse_policy(args.policy) if args.policy else []
    resolver = SecretResolver(project.root)
    public = trusted_public_key(args.key, args.public_key, project.root, resolver,
                                key_options(args), project.config.state_dir)
    if args.run:
        report, what = _verify_published(args, project, resolver, public, requirements)
    else:
        if not args.model:
            raise InputError("name a MODEL to verify, or --run RUN for a published run")
        model = Path(args.model)
        signature = Path(args.signature) if args.signature else model.with_name(
            model.name + ".sig")
        attestation = Path(args.attestation) if args.attestation else None
        sbom = Path(args.sbom) if args.sbom else None
        report = verify_all(model, signature, public, attestation, requirements, sbom)
        what = str(model)
    if args.json:
        print_json({"verified": report.passed, "what": what, "failures": list(report.failures),
                    "files": report.files})
    elif report.passed:
        sys.stdout.write(f"verified {what}: {len(report.files)} file(s) match the signature"
                         + (", attestation checked" if report.statement else "")
                         + (f", {len(requirements)} policy requirement(s) met" if requirements
                            else "") + "\n")
    else:
        sys.stdout.write(f"verification FAILED for {what}\n")
        for failure in report.failures:
            sys.stdout.write(f"  fail: {failure}\n")
    return exitcodes.PASSED if report.passed else exitcodes.GATE_FAILED


def _verify_published(args: argparse.Namespace, project: Any, resolver: SecretResolver,
                      public: bytes | SigstoreIdentity,
                      requirements: list[Any]) -> tuple[VerifyReport, str]:
    store = store_from_args(args, project, resolver)
    run_id = resolve_run(store, args.pipeline, args.run)
    with tempfile.TemporaryDirectory(prefix="secpipe-verify-") as tmp:
        manifest, _ = fetch(store, run_prefix(args.pipeline, run_id), Path(tmp) / "run")
        what = f"run {run_id} in {store.uri}"
        signed = manifest.signed
        if signed is None:
            return VerifyReport(("it has no signed model",)), what
        root = Path(tmp) / "run"
        attestation = root / signed.attestation if signed.attestation else None
        sbom = root / signed.sbom if signed.sbom else None
        return verify_all(root / signed.model, root / signed.signature, public, attestation,
                          requirements, sbom), what
