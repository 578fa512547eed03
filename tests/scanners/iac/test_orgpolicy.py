"""Organisation policies as code: compiling the ``policies:`` entries of scan-iac and judging
the resources the framework modules understood."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from secpipe.core.errors import ConfigError
from secpipe.core.findings import Severity
from secpipe.scanners.iac.model import IacHit, IacResource, Problem, Ref, Unresolved
from secpipe.scanners.iac.orgpolicy import MAX_VALUES, compile_policies, evaluate


def bucket(name: str = "data", line: int = 1, **attrs: Any) -> IacResource:
    return IacResource("terraform", "aws_s3_bucket", f"aws_s3_bucket.{name}", "main.tf", line,
                       attrs, end_line=line + 9, lines={"tags.owner": line + 3,
                                                        "tags": line + 2, "acl": line + 1})


def sg(name: str, ingress: list[dict[str, Any]]) -> IacResource:
    return IacResource("terraform", "aws_security_group", f"aws_security_group.{name}",
                       "net.tf", 20, {"name": name, "ingress": ingress}, end_line=40,
                       lines={"ingress.cidr_blocks": 25, "ingress[1].cidr_blocks": 31})


def rule(**entry: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": "org.test", "title": "Test rule", "severity": "medium",
                            "resource": "aws_s3_bucket"}
    return {**base, **entry}


def run(entry: dict[str, Any], *resources: IacResource,
        ) -> tuple[list[IacHit], list[Problem]]:
    hits, problems, described = evaluate(compile_policies([entry]), list(resources))
    assert [r.id for r in described] == [entry["id"]]
    return hits, problems


def fired(entry: dict[str, Any], resource: IacResource) -> bool:
    hits, problems = run(entry, resource)
    assert problems == []
    return bool(hits)


# --- the brief's example and the rule description ---------------------------------------------


def test_owner_tag_required_on_production_buckets() -> None:
    entry = rule(id="org.s3-owner-tag", title="S3 buckets carry an owner tag",
                 where={"attribute": "tags.Environment", "equals": "prod"},
                 attribute="tags.owner", exists=True,
                 message="every production bucket names its owning team")
    prod_without = bucket("a", tags={"Environment": "prod"})
    prod_with = bucket("b", tags={"Environment": "prod", "owner": "team-data"})
    dev_without = bucket("c", tags={"Environment": "dev"})
    untagged = bucket("d")
    hits, problems = run(entry, prod_without, prod_with, dev_without, untagged)
    assert problems == []
    (hit,) = hits
    assert (hit.rule_id, hit.path, hit.resource) == ("org.s3-owner-tag", "main.tf",
                                                     "aws_s3_bucket.a")
    assert hit.line == 4 and hit.block == (1, 10)  # lines["tags.owner"]; the resource's block
    assert hit.message == ("aws_s3_bucket.a: every production bucket names its owning team: "
                           "tags.owner is missing")
    (described,) = compile_policies([entry])
    assert described.rule.severity is Severity.MEDIUM
    assert described.rule.framework == "terraform"
    assert described.rule.title == "S3 buckets carry an owner tag"


def test_absent_and_exists_false() -> None:
    for entry in (rule(attribute="acl", absent=True), rule(attribute="acl", exists=False)):
        assert fired(entry, bucket(acl="private"))
        assert not fired(entry, bucket())
        assert not fired(entry, bucket(acl=None))  # null is not a value


# --- each condition, with its safe look-alike ----------------------------------------------------


@pytest.mark.parametrize(("cond", "bad", "good"), [
    ({"equals": "private"}, "public-read", "private"),
    ({"equals": True}, "false", "true"),  # Terraform often writes booleans as strings
    ({"equals": 22}, "2222", "22"),
    ({"not_equals": "public-read"}, "public-read", "public-read-write-not"),
    ({"in": ["private", "log-delivery-write"]}, "public-read", "log-delivery-write"),
    ({"not_in": ["public-read", "public-read-write"]}, "public-read-write", "private"),
    ({"matches": "^team-[a-z]+$"}, "Team-X", "team-data"),
    ({"not_matches": "(?i)public"}, "PUBLIC-read", "private"),
    ({"contains": "team"}, "owner", "a-team"),
    ({"not_contains": "*"}, "s3:*", "s3:GetObject"),
    ({"greater_than": 89}, 30, 90),
    ({"less_than": 3601}, "43200", "3600"),
])
def test_each_condition(cond: dict[str, Any], bad: Any, good: Any) -> None:
    entry = rule(attribute="acl", **cond)
    assert fired(entry, bucket(acl=bad))
    assert not fired(entry, bucket(acl=good))


def test_missing_values_fail_positive_conditions_and_pass_negative_ones() -> None:
    assert fired(rule(attribute="acl", equals="private"), bucket())
    assert fired(rule(attribute="acl", matches="x"), bucket())
    assert not fired(rule(attribute="acl", not_equals="public-read"), bucket())
    assert not fired(rule(attribute="acl", not_contains="x"), bucket())


def test_a_number_condition_on_text_fires_saying_so() -> None:
    hits, _ = run(rule(attribute="days", greater_than=30), bucket(days="forever"))
    assert "is not a number" in hits[0].message


def test_contains_on_lists_and_mappings() -> None:
    tags = rule(attribute="tags", contains=["owner", "cost-center"])
    assert fired(tags, bucket(tags={"owner": "x"}))
    assert not fired(tags, bucket(tags={"owner": "x", "cost-center": "42"}))
    cidrs = rule(attribute="cidrs", not_contains=["0.0.0.0/0", "::/0"])
    assert fired(cidrs, bucket(cidrs=["10.0.0.0/8", "::/0"]))
    assert not fired(cidrs, bucket(cidrs=["10.0.0.0/8", "0.0.0.0/16"]))  # look-alike


# --- list paths -----------------------------------------------------------------------------


OPEN = {"resource": "aws_security_group", "attribute": "ingress[*].cidr_blocks",
        "not_contains": ["0.0.0.0/0", "::/0"]}


def test_every_element_of_a_list_path_must_hold() -> None:
    web = sg("web", [{"cidr_blocks": ["10.0.0.0/8"]}, {"cidr_blocks": ["::/0"]},
                     {"cidr_blocks": ["0.0.0.0/0"]}])
    hits, problems = run(rule(**OPEN), web)
    assert problems == []
    (hit,) = hits
    assert hit.line == 31  # lines of the concrete element, ingress[1].cidr_blocks
    assert "ingress[1].cidr_blocks contains \"::/0\" (and 1 more)" in hit.message
    assert not fired(rule(**OPEN), sg("ok", [{"cidr_blocks": ["10.0.0.0/8"]}, {}]))


def test_a_key_on_nested_blocks_reads_every_block() -> None:
    entry = rule(resource="aws_security_group", attribute="ingress.from_port", not_equals=22)
    assert fired(entry, sg("ssh", [{"from_port": 443}, {"from_port": 22}]))
    assert not fired(entry, sg("web", [{"from_port": 443}]))


def test_where_over_a_list_is_any_and_index_paths() -> None:
    entry = rule(resource="aws_security_group", where={"attribute": "ingress[*].from_port",
                                                        "equals": 22},
                 attribute="ingress[0].description", exists=True)
    assert fired(entry, sg("ssh", [{"from_port": 443}, {"from_port": 22}]))
    assert not fired(entry, sg("web", [{"from_port": 443}]))
    assert not fired(entry, sg("ssh2", [{"from_port": 22, "description": "bastion"}]))


def test_empty_list_is_absent() -> None:
    entry = rule(resource="aws_security_group", attribute="ingress[*].description", exists=True)
    assert fired(entry, sg("none", []))


def test_where_as_a_list_needs_every_filter() -> None:
    entry = rule(where=[{"attribute": "tags.env", "equals": "prod"},
                        {"attribute": "tags.public", "not_equals": True}],
                 attribute="versioning.enabled", equals=True)
    assert fired(entry, bucket(tags={"env": "prod"}, versioning=[{"enabled": False}]))
    assert not fired(entry, bucket(tags={"env": "prod", "public": "true"}))
    assert not fired(entry, bucket(tags={"env": "dev"}))


# --- resource selection and frameworks --------------------------------------------------------


def test_globs_lists_and_kubernetes_kinds() -> None:
    deploy = IacResource("kubernetes", "Deployment", "Deployment/default/web", "k8s/web.yaml", 1,
                         {"metadata": {"labels": {"app.kubernetes.io/name": "web"}},
                          "spec": {"template": {"spec": {"containers": [
                              {"name": "a", "securityContext": {"runAsNonRoot": True}},
                              {"name": "b"}]}}}}, end_line=30)
    entry = rule(id="org.k8s-non-root", resource=["Deployment", "StatefulSet"],
                 attribute="spec.template.spec.containers[*].securityContext.runAsNonRoot",
                 equals=True)
    hits, _ = run(entry, deploy, bucket())
    assert [h.resource for h in hits] == ["Deployment/default/web"]
    assert "containers[1].securityContext.runAsNonRoot is missing" in hits[0].message
    assert compile_policies([entry])[0].rule.framework == "kubernetes"
    labelled = rule(id="org.k8s-name", resource="Deploy*",
                    attribute='metadata.labels["app.kubernetes.io/name"]', matches="^web$")
    assert not fired(labelled, deploy)
    assert fired(rule(resource="aws_*", attribute="tags", exists=True), bucket())
    assert not fired(rule(resource="aws_s3_bucket_policy", attribute="tags", exists=True),
                     bucket())


def test_framework_filter() -> None:
    entry = rule(resource="*", framework="kubernetes", attribute="tags", exists=True)
    assert not fired(entry, bucket())


# --- unresolved values, references, secrets -----------------------------------------------------


def test_an_unresolved_value_is_a_problem_naming_the_rule_never_a_pass() -> None:
    hits, problems = run(rule(id="org.acl", attribute="acl", equals="private"),
                         bucket(acl=Unresolved("var.acl", "no default and no tfvars value")))
    assert hits == []
    (problem,) = problems
    assert problem.rule_id == "iac.unresolved" and problem.line == 2
    assert "org.acl" in problem.message and "var.acl" in problem.message
    assert "no default" in problem.message


def test_unresolved_on_the_way_and_in_a_filter_and_in_a_list() -> None:
    _, problems = run(rule(attribute="tags.owner", exists=True),
                      bucket(tags=Unresolved("local.tags")))
    assert [p.rule_id for p in problems] == ["iac.unresolved"]
    _, problems = run(rule(where={"attribute": "tags.env", "equals": "prod"},
                           attribute="acl", exists=True),
                      bucket(tags={"env": Unresolved("var.env")}))
    assert [p.rule_id for p in problems] == ["iac.unresolved"]
    hits, problems = run(rule(attribute="cidrs", not_contains="0.0.0.0/0"),
                         bucket(cidrs=["10.0.0.0/8", Unresolved("var.extra")]))
    assert hits == [] and [p.rule_id for p in problems] == ["iac.unresolved"]
    hits, problems = run(rule(attribute="cidrs", not_contains="0.0.0.0/0"),
                         bucket(cidrs=["0.0.0.0/0", Unresolved("var.extra")]))
    assert len(hits) == 1 and problems == []  # already decided by the known element


def test_references_exist_match_by_text_and_are_unresolved_for_values() -> None:
    key = Ref("aws_kms_key.main", "arn")
    assert not fired(rule(attribute="kms", exists=True), bucket(kms=key))
    assert not fired(rule(attribute="kms", matches=r"^aws_kms_key\."), bucket(kms=key))
    _, problems = run(rule(attribute="kms", equals="arn:aws:kms:x"), bucket(kms=key))
    assert [p.rule_id for p in problems] == ["iac.unresolved"]


def test_secret_looking_attributes_are_not_quoted() -> None:
    value = "hunter" + "2-very-secret"
    hits, _ = run(rule(attribute="master_password", matches="^\\$\\{"),
                  bucket(master_password=value))
    assert value not in hits[0].message and value not in hits[0].evidence
    assert "a literal value" in hits[0].message


def test_fan_out_is_bounded() -> None:
    many = sg("huge", [{"cidr_blocks": ["10.0.0.0/8"]}] * (MAX_VALUES + 5))
    hits, problems = run(rule(**OPEN), many)
    assert hits == [] and [p.rule_id for p in problems] == ["iac.budget-exceeded"]


# --- configuration errors -------------------------------------------------------------------


@pytest.mark.parametrize(("entry", "says"), [
    (rule(id="s3-owner", attribute="a", exists=True), "must start with 'org.'"),
    ({"id": "org.x", "severity": "low", "resource": "r", "attribute": "a", "exists": True},
     "missing key 'title'"),
    (rule(severity="urgent", attribute="a", exists=True), "unknown severity"),
    (rule(attribute="a"), "exactly one condition"),
    (rule(attribute="a", exists=True, equals=1), "exactly one condition"),
    (rule(attribute="a", must_have=True), "unknown key 'must_have'"),
    (rule(exists=True), "missing key 'attribute'"),
    (rule(attribute="a..b", exists=True), "is not a path"),
    (rule(attribute="a[x]", exists=True), "is not a path"),
    (rule(attribute="a", matches="(unclosed"), "not a valid RE2"),
    (rule(attribute="a", matches="(a)\\1"), "not a valid RE2"),  # backreference
    (rule(attribute="a", matches="x" * 1001), "longer than 1000"),
    (rule(attribute="a", greater_than="10"), "must be a number"),
    (rule(attribute="a", in_="x"), "unknown key"),
    (rule(attribute="a", **{"in": "x"}), "non-empty list"),
    (rule(attribute="a", exists="yes"), "true or false"),
    (rule(attribute="a", equals=None), "needs a value"),
    (rule(attribute="a", exists=True, where={"attribute": "b"}), "where[0]: needs exactly one"),
    (rule(attribute="a", exists=True, where={"attribute": "b", "exists": True, "title": "x"}),
     "unknown key 'title'"),
    (rule(attribute="a", exists=True, resource=[]), "resource must be"),
    (rule(attribute="a", exists=True, framework="cloudformation"), "framework must be one of"),
    ("org.x", "each policy is a mapping"),
])
def test_configuration_errors_name_the_entry_and_the_problem(entry: Any, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        compile_policies([entry])
    assert says in err.value.message and "policies[0]" in err.value.message


def test_duplicate_ids_are_refused() -> None:
    entry = rule(attribute="a", exists=True)
    with pytest.raises(ConfigError, match="used twice"):
        compile_policies([entry, entry])


def test_the_documented_examples_compile_and_work() -> None:
    import re
    from pathlib import Path

    import yaml

    doc = Path(__file__).resolve().parents[3] / "docs" / "iac-policies.md"
    block = re.search(r"```yaml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    assert block is not None
    step = yaml.safe_load(block[1])[0]
    rules = compile_policies(step["with"]["policies"])
    assert [r.rule.id for r in rules] == ["org.s3-owner-tag", "org.no-open-ingress",
                                          "org.k8s-non-root", "org.rds-retention",
                                          "org.approved-registries"]
    web = sg("web", [{"cidr_blocks": ["::/0"]}])
    hits, problems, _ = evaluate(rules, [web, bucket(tags={"Environment": "prod"})])
    assert problems == [] and sorted(h.rule_id for h in hits) == ["org.no-open-ingress",
                                                                  "org.s3-owner-tag"]


def test_a_missing_secret_attribute_still_says_missing() -> None:
    hits, _ = run(rule(attribute="master_password", exists=True), bucket())
    assert hits[0].message.endswith("master_password is missing")


def test_a_list_of_paths_is_alternatives() -> None:
    entry = rule(attribute=["acl", "grant[*].permission"],
                 not_in=["FULL_CONTROL", "public-read"])
    assert fired(entry, bucket(grant=[{"permission": "READ"}, {"permission": "FULL_CONTROL"}]))
    assert fired(entry, bucket(acl="public-read"))
    assert not fired(entry, bucket(acl="private", grant=[{"permission": "READ"}]))
    must = rule(attribute=["kms_key_id", "encryption.kms_key"], exists=True)
    assert not fired(must, bucket(encryption=[{"kms_key": "k"}]))  # one alternative present
    assert fired(must, bucket())  # none present: absent
    hits, _ = run(rule(attribute=["a", "b"], matches="^x"), bucket())
    assert hits[0].message.endswith("a is missing")
    with pytest.raises(ConfigError, match="1 to 20 paths"):
        compile_policies([rule(attribute=[], exists=True)])


def test_hostile_nesting_is_bounded() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    hits, problems = run(rule(attribute="a.b", exists=True), bucket(a=deep))
    assert problems == [] and len(hits) == 1  # a list of lists has no key b
    wide = bucket(a={"k" + str(i): {"b": i} for i in range(MAX_VALUES + 10)})
    hits, problems = run(rule(attribute="a[*].b", less_than=0), wide)
    assert hits == [] and [p.rule_id for p in problems] == ["iac.budget-exceeded"]


def test_deeply_nested_values_compared_are_a_problem_not_a_crash() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    hits, problems = run(rule(attribute="a", contains="x"), bucket(a=deep))
    assert hits == [] or problems == []  # judged on the outer list, or refused: never raises
    hits, problems = run(rule(attribute="a", equals="x", where={"attribute": "a",
                                                               "not_equals": "y"}),
                         bucket(a=deep))
    assert len(hits) + len(problems) == 1


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                    st.sampled_from(["", "x", "org.a", "(", "a[*].b", "a..b", "[0]", "Deploy*",
                                     "high", "^x$", "\\1"]),
                    st.lists(st.sampled_from(["a", "b[*]", 1, None]), max_size=3),
                    st.dictionaries(st.sampled_from(["attribute", "equals", "exists"]),
                                    st.sampled_from(["a", True, 1]), max_size=3))
_KEYS = st.sampled_from(["id", "title", "severity", "resource", "attribute", "where", "message",
                         "framework", "controls", "exists", "absent", "equals", "in",
                         "matches", "contains", "greater_than", "bogus"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(_KEYS, _VALUES, max_size=8), max_size=3))
def test_any_entry_compiles_or_is_a_config_error(entries: list[dict[str, Any]]) -> None:
    try:
        rules = compile_policies(entries)
    except ConfigError as exc:
        assert exc.message.startswith("policies")
        return
    evaluate(rules, [bucket(a=[1, {"b": None}], acl="x"), sg("w", [{}])])


def test_non_text_keys_are_config_errors() -> None:
    entry: dict[Any, Any] = {**rule(attribute="a", exists=True), 1: "x", "bogus": 2}
    with pytest.raises(ConfigError, match="unknown key"):
        compile_policies([entry])
    with pytest.raises(ConfigError, match="unknown key"):
        compile_policies([rule(attribute="a", exists=True,
                               where={"attribute": "b", "exists": True, 2: 1, "c": 3})])
