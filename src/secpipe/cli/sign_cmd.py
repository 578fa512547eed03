"""``secpipe sign MODEL``: sign a model file or folder (OpenSSF model-signing format) and, with
``--run``, attest what a recorded run checked."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from secpipe.cli.common import open_project, open_store, print_json
from secpipe.keys.refs import SecretResolver
from secpipe.keys.signers import KeyOptions, open_signing_key
from secpipe.provenance.attestation import build_statement, sign_statement
from secpipe.provenance.check import subject_names
from secpipe.provenance.modelsig import sign_model, write_atomic

KEY_HELP = ("signing key: file:PATH (default .secpipe/keys/signing.pem, generated on first use), "
            "vault-transit:MOUNT/NAME or awskms:KEY-ID (default: $SECPIPE_SIGNING_KEY)")


def add_key_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", default=os.environ.get("SECPIPE_SIGNING_KEY"), metavar="REF",
                   help=KEY_HELP)
    p.add_argument("--vault-addr", metavar="URL", help="Vault/OpenBao address ($VAULT_ADDR)")
    p.add_argument("--aws-endpoint", metavar="URL", help="KMS endpoint ($AWS_ENDPOINT_URL)")


def key_options(args: argparse.Namespace) -> KeyOptions:
    return KeyOptions(vault_addr=args.vault_addr, aws_endpoint=args.aws_endpoint,
                      key_password=os.environ.get("SECPIPE_KEY_PASSWORD"))


def add_parser(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser(
        "sign", parents=[common], help="sign a model (file or folder) and attest a run",
        description="Sign a model file or folder in the OpenSSF model-signing format (a Sigstore "
        "bundle, verifiable with `model_signing verify key`). With --run, also write a signed "
        "in-toto attestation of what that recorded run checked. Exit 0 signed, 2 error.",
    )
    p.add_argument("model", help="model file or folder")
    add_key_options(p)
    p.add_argument("-o", "--signature", metavar="FILE",
                   help="signature bundle to write (default: MODEL.sig beside the model)")
    p.add_argument("--run", metavar="RUN", help="attest this recorded run ('latest' or an id)")
    p.add_argument("--attestation", metavar="FILE",
                   help="attestation to write (default: MODEL.intoto.json beside the model)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    project = open_project(args)
    model = Path(args.model)
    base = model.parent / model.name
    signature = Path(args.signature) if args.signature else base.with_name(model.name + ".sig")
    resolver = SecretResolver(project.root)
    key = open_signing_key(args.key, project.root, resolver, key_options(args),
                           project.config.state_dir)
    signed = sign_model(model, signature, key)
    result: dict[str, Any] = {"model": str(model), "signature": str(signature),
                              "key": key.label, "key_id": signed.key_id,
                              "files": len(signed.files)}
    if args.run:
        store = open_store(project)
        try:
            record = store.get_run(store.resolve(args.run))
        finally:
            store.close()
        statement = build_statement(subject_names(signed.files, model), record.pipeline,
                                    record.run_id, record.steps, record.started)
        attestation = Path(args.attestation) if args.attestation else base.with_name(
            model.name + ".intoto.json")
        write_atomic(attestation, sign_statement(statement, key))
        result.update(attestation=str(attestation), run_id=record.run_id)
    if args.json:
        print_json(result)
    else:
        sys.stdout.write(f"signed {model} ({len(signed.files)} file(s)) with {key.label}\n"
                         f"  signature:   {signature}\n  key id:      {signed.key_id}\n")
        if "attestation" in result:
            sys.stdout.write(f"  attestation: {result['attestation']} (run {result['run_id']})\n")
    return 0
