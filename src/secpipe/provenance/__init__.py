"""Provenance: model signatures, attestations of what a run checked, SBOM / AI-BOM, verification.

- :mod:`~secpipe.provenance.modelsig` signs and verifies a model file or folder in the OpenSSF
  model-signing format (a Sigstore bundle) with any :class:`~secpipe.keys.signers.SigningKey`.
- :mod:`~secpipe.provenance.attestation` builds the in-toto Statement v1 of a run (predicate
  ``https://secpipe.dev/attestations/pipeline-run/v1``) and signs it as a DSSE envelope.
- :mod:`~secpipe.provenance.sbom` writes the CycloneDX 1.6 SBOM / AI-BOM of a run.
- :mod:`~secpipe.provenance.policy` parses and evaluates requirements such as
  ``scan-models passed``; :mod:`~secpipe.provenance.check` verifies all of it together.
- Step kinds: ``sign`` (:mod:`~secpipe.provenance.sign_step`) and ``verify``
  (:mod:`~secpipe.provenance.verify_step`); ``store`` and ``load`` live in :mod:`secpipe.stores`.
"""
