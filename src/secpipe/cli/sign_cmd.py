"""``secpipe sign MODEL``: sign a model file or folder (OpenSSF model-signing format) and, with
``--run``, attest what a recorded run checked."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from secpipe.cli.common import load_run, open_project, print_json
from secpipe.core import exitcodes
from secpipe.core.errors import ConfigError, require_extra
from secpipe.keys.refs import SecretResolver
from secpipe.keys.signers import KeyOptions, is_keyless, legacy_key_warning
from secpipe.provenance.attestation import build_statement, sign_statement
from secpipe.provenance.check import subject_names
from secpipe.provenance.modelsig import write_atomic
from secpipe.provenance.signing import sign_with

KEY_HELP = ("signing key: file:PATH (default: your own key in ~/.config/secpipe/keys, generated "
            "on first use, never inside the project), "
            "vault-transit:MOUNT/NAME, awskms:KEY-ID or sigstore (keyless, needs network) "
            "(default: $SECPIPE_SIGNING_KEY)")


def add_key_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", default=os.environ.get("SECPIPE_SIGNING_KEY"), metavar="REF",
                   help=KEY_HELP)
    p.add_argument("--vault-addr", metavar="URL", help="Vault/OpenBao address ($VAULT_ADDR)")
    p.add_argument("--aws-endpoint", metavar="URL", help="KMS endpoint ($AWS_ENDPOINT_URL)")
    p.add_argument("--staging", action="store_true",
                   help="--key sigstore: use Sigstore's staging instance (testing only)")
    p.add_argument("--sigstore-timeout", type=float, default=120.0, metavar="SECONDS",
                   help="--key sigstore: seconds to wait for Sigstore (default 120)")


def key_options(args: argparse.Namespace) -> KeyOptions:
    return KeyOptions(vault_addr=args.vault_addr, aws_endpoint=args.aws_endpoint,
                      key_password=os.environ.get("SECPIPE_KEY_PASSWORD"),
                      use_staging=args.staging, identity=getattr(args, "identity", None),
                      oidc_issuer=getattr(args, "oidc_issuer", None),
                      sigstore_timeout=args.sigstore_timeout)


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "sign", parents=[common], help="sign a model (file or folder) and attest a run",
        description="Sign a model file or folder in the OpenSSF model-signing format (a Sigstore "
        "bundle, verifiable with `model_signing verify key`). With --run, also write a signed "
        "in-toto attestation of what that recorded run checked. Exit 0 signed, 2 error.",
    )
    p.add_argument("model", help="model file or folder")
    add_key_options(p)
    p.add_argument("--identity-token", metavar="REF", default="${env:SIGSTORE_ID_TOKEN}",
                   help="--key sigstore: OIDC identity token or a reference to it (default "
                   "${env:SIGSTORE_ID_TOKEN})")
    p.add_argument("-o", "--signature", metavar="FILE",
                   help="signature bundle to write (default: MODEL.sig beside the model)")
    p.add_argument("--run", metavar="RUN", help="attest this recorded run ('latest' or an id)")
    p.add_argument("--attestation", metavar="FILE",
                   help="attestation to write (default: MODEL.intoto.json beside the model)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    require_extra("secpipe sign", "provenance")
    project = open_project(args)
    model = Path(args.model)
    base = model.parent / model.name
    signature = Path(args.signature) if args.signature else base.with_name(model.name + ".sig")
    resolver = SecretResolver(project.root)
    if args.run and args.key and is_keyless(resolver.resolve(args.key, "--key")):
        raise ConfigError("--key sigstore (keyless) does not attest a run; drop --run")
    options = replace(key_options(args), identity_token=args.identity_token,
                      use_staging=args.staging, sigstore_timeout=args.sigstore_timeout)
    legacy = legacy_key_warning(project.root, project.config.state_dir)
    if legacy and not args.key:
        print(f"secpipe: warning: {legacy}", file=sys.stderr)
    made = sign_with(model, signature, args.key, project_root=project.root, secrets=resolver,
                     options=options, state_dir=project.config.state_dir,
                     attest=bool(args.run), what="--key")
    signed, label, key = made.signed, made.label, made.key
    result: dict[str, Any] = {"model": str(model), "signature": str(signature),
                              "key": label, "key_id": signed.key_id,
                              "files": len(signed.files)}
    if args.run and key is not None:
        record = load_run(project, args.run)
        statement = build_statement(subject_names(signed.files, model), record.pipeline,
                                    record.run_id, record.steps, record.started)
        attestation = Path(args.attestation) if args.attestation else base.with_name(
            model.name + ".intoto.json")
        write_atomic(attestation, sign_statement(statement, key))
        result.update(attestation=str(attestation), run_id=record.run_id)
    if args.json:
        print_json(result)
    else:
        sys.stdout.write(f"signed {model} ({len(signed.files)} file(s)) with {label}\n"
                         f"  signature:   {signature}\n  key id:      {signed.key_id}\n")
        if "attestation" in result:
            sys.stdout.write(f"  attestation: {result['attestation']} (run {result['run_id']})\n")
    return exitcodes.PASSED
