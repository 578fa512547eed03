"""Terraform for ``scan-iac``: HCL, Terraform JSON, var files and plan JSON into
:class:`~.model.TfModel` objects (:mod:`.loader`), checked by the rules of ``rules_aws``,
``rules_azure`` and ``rules_gcp``.

The rules modules must not import :mod:`.loader` (it imports them)."""

from secpipe.scanners.iac.terraform.loader import RULES, analyse, load

__all__ = ["RULES", "analyse", "load"]
