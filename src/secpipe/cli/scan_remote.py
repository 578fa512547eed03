"""Scanning what an artifact store holds: ``secpipe scan models s3://bucket/prefix``.

The objects under the URI are downloaded (bounded in count and bytes) into a temporary folder,
scanned there like local files, and the findings are reported at their store location
(``s3://bucket/prefix/key``). Store credentials come from the environment, as for the ``store``
step's defaults: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (or boto3's
chain) for S3, ``--insecure`` for an OCI registry over plain HTTP.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from secpipe.core.errors import InputError
from secpipe.core.results import Skipped, StepResult

STORE_URI = re.compile(r"^(s3|oci|file)://", re.IGNORECASE)
MAX_OBJECTS = 10_000
MAX_BYTES = 20 << 30


def is_store_uri(text: str) -> bool:
    return bool(STORE_URI.match(text))


def fetch(uri: str, dest: Path, insecure: bool = False) -> int:
    """Download every object under ``uri`` into ``dest``; returns how many. Errors are one line."""
    from secpipe.keys.refs import SecretResolver
    from secpipe.stores.interface import check_key
    from secpipe.stores.open import StoreSettings, describe, open_store

    store = open_store(uri, StoreSettings(insecure=insecure), dest, SecretResolver(dest))
    objects = store.list("")
    if not objects:
        raise InputError(f"{describe(uri)}: the store holds nothing there")
    total = sum(o.size for o in objects)
    if len(objects) > MAX_OBJECTS or total > MAX_BYTES:
        raise InputError(f"{describe(uri)}: {len(objects)} objects, {total} bytes is more than "
                         f"a scan fetches ({MAX_OBJECTS} objects, {MAX_BYTES >> 30} GiB)",
                         hint="scan a narrower prefix")
    for obj in objects:
        store.get_file(check_key(obj.key), dest / obj.key)
    return len(objects)


def relocate(result: StepResult, uri: str) -> StepResult:
    """The result with every location and skipped path under the store URI instead of the
    temporary folder (fingerprints keep the key, so they stay stable across fetches)."""
    base = uri.rstrip("/")
    findings = tuple(
        replace(f, location=replace(f.location, path=f"{base}/{f.location.path}"))
        for f in result.findings)
    skipped = tuple(Skipped(f"{base}/{s.path}", s.reason) for s in result.skipped)
    return replace(result, findings=findings, skipped=skipped)
