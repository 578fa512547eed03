"""Artifact stores: where a run's artifacts are published and loaded from.

Every backend implements :class:`~secpipe.stores.interface.ArtifactStore` (``put_file``,
``put_dir``, ``get_file``, ``list``, ``stat``, ``delete``; digests are SHA-256) and is opened from a
URI by :func:`~secpipe.stores.open.open_store`:

- ``file:///path`` or a plain path — a local folder (the embedded default is ``.secpipe/store``);
- ``s3://bucket/prefix`` — any S3-compatible object store, through ``boto3``;
- ``oci://host/repository`` — an OCI registry (Nexus, Harbor, GHCR, distribution), through ORAS.

On top of the backends, :mod:`secpipe.stores.manifest` publishes a run atomically: every file is
uploaded under ``<pipeline>/<run-id>/files/`` and ``<pipeline>/<run-id>/manifest.json`` (the SHA-256
of each file, and which files are the signed model, its signature and attestation) is written LAST,
so readers ignore a run folder without a manifest. Loading checks every digest against the manifest.
The ``store`` and ``load`` step kinds live in :mod:`secpipe.stores.steps`.
"""
