"""Terraform rules for AWS resources: the rule table and checks of every ``rules_aws_*``
module (S3, networking, IAM, compute, data services).

Each check reads a :class:`~.model.TfModel` and yields hits, or an ``iac.unresolved`` problem
when the value that decides could not be computed statically (never a silent pass)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from secpipe.scanners.iac.model import IacHit, IacRule, Problem, rule_table
from secpipe.scanners.iac.terraform import (
    rules_aws_compute,
    rules_aws_data,
    rules_aws_iam,
    rules_aws_net,
    rules_aws_s3,
)
from secpipe.scanners.iac.terraform.model import TfModel

_MODULES = (rules_aws_s3, rules_aws_net, rules_aws_iam, rules_aws_compute, rules_aws_data)

RULES: dict[str, IacRule] = rule_table(r for m in _MODULES for r in m.RULES)
CHECKS: list[Callable[[TfModel], Iterable[IacHit | Problem]]] = [
    check for m in _MODULES for check in m.CHECKS]
