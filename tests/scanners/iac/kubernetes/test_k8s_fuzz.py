"""Property tests: odd manifests and templates never raise out of the module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import iac_file
from secpipe.scanners.iac.kubernetes import analyse, gotmpl
from secpipe.scanners.iac.model import Budget

KEYS = ["spec", "template", "jobTemplate", "containers", "initContainers", "securityContext",
        "privileged", "runAsUser", "runAsNonRoot", "capabilities", "add", "drop", "volumes",
        "hostPath", "path", "ports", "hostPort", "resources", "limits", "image", "env", "name",
        "value", "rules", "verbs", "subjects", "roleRef", "metadata", "namespace", "data",
        "seccompProfile", "type", "items", "hostNetwork", "tls"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2, 70000),
                    st.sampled_from(["", "*", "ALL", "true", "0", "secrets", "a:latest",
                                     "/var/run/docker.sock", "SYS_ADMIN", "cluster-admin"]))
TREES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=25)
KINDS = st.sampled_from(["Pod", "Deployment", "CronJob", "List", "Role", "ClusterRoleBinding",
                         "Service", "Ingress", "ConfigMap", "PersistentVolume", "PodTemplate"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=KINDS, body=st.dictionaries(st.sampled_from(KEYS), TREES, max_size=4))
def test_any_object_shape_is_checked_without_raising(tmp_path: Path, kind: str,
                                                     body: dict[str, Any]) -> None:
    doc = {"apiVersion": "v1", "kind": kind, **body}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(doc) + "---\n" + yaml.safe_dump(body or {"a": 1}))
    result = analyse([iac_file(tmp_path, "m.yaml")], [], tmp_path, Budget())
    assert all("could not be checked" not in p.message for p in result.problems)
    assert all(h.path == "m.yaml" for h in result.hits)


PIECES = ["{{", "}}", "{{- ", " -}}", "if ", "else ", "end", "range ", "with ", "define ",
          '"x"', ".Values.a", ".Values.b.c", "$", "$v", ":=", "|", "(", ")", "default ",
          "include ", "toYaml ", "nindent 2 ", "quote ", "\n", "a: ", "  ", "/*", "*/", "1",
          "printf ", '"%s"', "tpl ", "lookup ", "semverCompare ", "eq ", "not ", "and "]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=30))
def test_any_template_text_renders_or_is_refused(parts: list[str]) -> None:
    text = "".join(parts)
    try:
        nodes, defines = gotmpl.parse(text)
    except gotmpl.TemplateError:
        return
    renderer = gotmpl.Renderer(defines, {"Values": {"a": [1, {"c": "d"}], "b": {"c": True}}})
    try:
        out = gotmpl.render_template(renderer, nodes, "t")
    except gotmpl.RenderBudgetError:
        return
    assert len(out.lines) == len(out.text.splitlines()) or out.text.count("\n") == len(
        out.lines)
