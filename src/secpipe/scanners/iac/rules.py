"""Every native IaC rule, by id (the step, the docs generator and the benchmarks read this)."""

from __future__ import annotations

from functools import cache

from secpipe.scanners.iac.model import IacRule, rule_table


@cache
def all_rules() -> dict[str, IacRule]:
    """Terraform (AWS, Azure, GCP), Kubernetes/Helm, Dockerfile and Compose rules, by id."""
    from secpipe.scanners.iac.docker import RULES as DOCKER
    from secpipe.scanners.iac.kubernetes import RULES as KUBERNETES
    from secpipe.scanners.iac.terraform import RULES as TERRAFORM

    return rule_table([*TERRAFORM.values(), *KUBERNETES.values(), *DOCKER.values()])


def by_alias() -> dict[str, list[str]]:
    """Another tool's rule id (upper case) -> the ids of our rules about the same concern."""
    out: dict[str, list[str]] = {}
    for rule in all_rules().values():
        for alias in rule.aliases:
            out.setdefault(alias.upper(), []).append(rule.id)
    return out
