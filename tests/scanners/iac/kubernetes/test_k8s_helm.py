"""Helm charts: the static substituter (never a template engine), findings at the template's
path and line, partial rendering reported once per chart, ``helm template`` when installed."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from conftest import Scan, iac_file, rule_hits, write
from secpipe.scanners.iac.kubernetes import gotmpl, helm
from secpipe.scanners.iac.model import Budget

CHART = "apiVersion: v2\nname: shop\nversion: 0.1.0\nappVersion: \"1.4.2\"\n"

HELPERS = """{{/* names */}}
{{- define "shop.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "shop.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
"""

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "shop.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "shop.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas | default 1 }}
  template:
    spec:
      {{- if .Values.hostNetwork }}
      hostNetwork: true
      {{- end }}
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag | default "1.4" }}"
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          env:
            {{- range $name, $value := .Values.env }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            {{- end }}
"""

VALUES = """replicas: 2
hostNetwork: false
image:
  repository: registry.example.com/shop
securityContext:
  privileged: true
  runAsUser: 0
env:
  LOG_LEVEL: info
"""


def _chart(extra: dict[str, str] | None = None, values: str = VALUES) -> dict[str, str]:
    files = {"charts/shop/Chart.yaml": CHART, "charts/shop/values.yaml": values,
             "charts/shop/templates/_helpers.tpl": HELPERS,
             "charts/shop/templates/deployment.yaml": DEPLOYMENT}
    files.update(extra or {})
    return files


def test_values_drive_findings_at_template_lines(scan: Scan) -> None:
    result = scan(_chart(), charts=("charts/shop/Chart.yaml",))
    assert result.problems == []
    hits = rule_hits(result, "iac.k8s.privileged")
    assert len(hits) == 1
    hit = hits[0]
    assert hit.path == "charts/shop/templates/deployment.yaml"
    assert hit.line == DEPLOYMENT.split("\n").index(
        "            {{- toYaml .Values.securityContext | nindent 12 }}") + 1
    assert hit.resource == "Deployment/default/release-name-shop container shop"
    assert "Helm chart charts/shop" in hit.message
    assert rule_hits(result, "iac.k8s.run-as-root")[0].line == hit.line
    assert rule_hits(result, "iac.k8s.host-namespaces") == []  # false in values
    assert rule_hits(result, "iac.k8s.default-namespace") == []  # the install decides
    assert {r.framework for r in result.resources} == {"kubernetes"}  # org policies apply
    assert result.files == 1


def test_values_that_fix_the_chart(scan: Scan) -> None:
    safe = VALUES.replace("  privileged: true\n  runAsUser: 0\n",
                          "  privileged: false\n  runAsNonRoot: true\n")
    safe = safe.replace("hostNetwork: false", "hostNetwork: true")
    result = scan(_chart(values=safe), charts=("charts/shop/Chart.yaml",))
    assert rule_hits(result, "iac.k8s.privileged") == []
    assert rule_hits(result, "iac.k8s.run-as-root") == []
    hits = rule_hits(result, "iac.k8s.host-namespaces")
    assert [h.line for h in hits] == [DEPLOYMENT.split("\n").index(
        "      hostNetwork: true") + 1]


def test_secret_from_values_in_a_range(scan: Scan) -> None:
    secret = "pa" "ss-from-values-123"
    values = VALUES + f"  DB_PASSWORD: {secret}\n"
    result = scan(_chart(values=values), charts=("charts/shop/Chart.yaml",))
    hits = rule_hits(result, "iac.k8s.env-secret-literal")
    assert len(hits) == 1 and secret not in hits[0].message
    assert hits[0].line == DEPLOYMENT.split("\n").index(
        "              value: {{ $value | quote }}") + 1


def test_unsupported_construct_is_one_partial_render_problem(scan: Scan) -> None:
    extra = {
        "charts/shop/templates/secret.yaml": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
            "  annotations:\n    old: {{ (lookup \"v1\" \"Secret\" \"ns\" \"s\").data | quote }}\n"
            "data:\n  {{- tpl .Values.extra . | nindent 2 }}\n"),
        "charts/shop/templates/pod.yaml": (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"
            "  {{- if .Capabilities.APIVersions.Has \"x/v1\" }}\n  hostIPC: true\n  {{- end }}\n"
            "  hostPID: {{ .Values.hostPID | default true }}\n  containers: []\n"),
    }
    result = scan(_chart(extra), charts=("charts/shop/Chart.yaml",))
    partial = [p for p in result.problems if p.rule_id == "iac.partial-render"]
    assert len(partial) == 1
    assert partial[0].path == "charts/shop/Chart.yaml"
    assert "3 construct(s)" in partial[0].message
    assert "lookup" in partial[0].message and "tpl" in partial[0].message
    assert len(rule_hits(result, "iac.k8s.privileged")) == 1  # the rest is still checked
    namespaces = rule_hits(result, "iac.k8s.host-namespaces")
    assert [h.message.split(": ")[1].split(" (")[0] for h in namespaces] == ["hostPID is true"]


def test_broken_template_is_reported_not_raised(scan: Scan) -> None:
    extra = {"charts/shop/templates/broken.yaml": "kind: Pod\n{{ if .Values.x }}\nno end\n"}
    result = scan(_chart(extra), charts=("charts/shop/Chart.yaml",))
    partial = [p for p in result.problems if p.rule_id == "iac.partial-render"]
    assert len(partial) == 1 and "broken.yaml" in partial[0].message
    assert len(rule_hits(result, "iac.k8s.privileged")) == 1


def test_link_out_of_root_is_not_followed(scan: Scan, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.yaml"
    outside.write_text("apiVersion: v1\nkind: Pod\nspec:\n  hostPID: true\n")
    root = tmp_path / "project"
    write(root, _chart())
    os.symlink(outside, root / "charts/shop/templates/evil.yaml")
    result = helm.analyse_chart(iac_file(root, "charts/shop/Chart.yaml"), root, Budget(),
                                helm="")
    objects, problems, _ = result
    assert all(obj.kind != "Pod" for obj in objects)
    assert len(problems) == 1 and "a link out of the scanned folder" in problems[0].message


def test_render_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes, defines = gotmpl.parse('{{ define "loop" }}{{ include "loop" . }}{{ end }}'
                                  '{{ include "loop" . }}')
    with pytest.raises(gotmpl.RenderBudgetError, match="nested deeper"):
        gotmpl.render_template(gotmpl.Renderer(defines, {}), nodes, "t")
    monkeypatch.setattr(gotmpl, "MAX_RANGE", 10)
    nodes, defines = gotmpl.parse("{{ range .Values.items }}x{{ end }}")
    renderer = gotmpl.Renderer(defines, {"Values": {"items": list(range(11))}})
    with pytest.raises(gotmpl.RenderBudgetError, match="range over more than 10"):
        gotmpl.render_template(renderer, nodes, "t")
    nodes, defines = gotmpl.parse('{{ $x := "ab" }}{{ range .Values.items }}'
                                  '{{ $x = printf "%s%s" $x $x }}{{ end }}{{ $x }}')
    renderer = gotmpl.Renderer(defines, {"Values": {"items": list(range(10))}})
    monkeypatch.setattr(gotmpl, "MAX_OUTPUT", 100)
    with pytest.raises(gotmpl.RenderBudgetError, match="more than 100 characters"):
        gotmpl.render_template(renderer, nodes, "t")
    nodes, defines = gotmpl.parse('a: {{ "x" | nindent 100000000 }}\nb: {{ replace "" "yy" '
                                  '"abc" }}\n')
    renderer = gotmpl.Renderer(defines, {})
    assert gotmpl.render_template(renderer, nodes, "t").text == "b: yyayybyycyy\n"
    assert renderer.reasons == {"nindent": 1}


@pytest.mark.parametrize(("template", "values", "expected"), [
    ("a: {{ .Values.x | default \"d\" | quote }}", {}, 'a: "d"\n'),
    ("a: {{ .Values.x | default \"d\" }}", {"x": "v"}, "a: v\n"),
    ("{{- if eq .Values.m \"a\" }}A{{ else if .Values.n }}N{{ else }}E{{ end }}",
     {"m": "b", "n": 1}, "N\n"),
    ("{{ with .Values.s }}{{ .k }}{{ else }}none{{ end }}", {"s": {"k": "v"}}, "v\n"),
    ("{{ with .Values.s }}{{ .k }}{{ else }}none{{ end }}", {}, "none\n"),
    ("{{- range $i, $v := .Values.l }}{{ $i }}={{ $v }};{{ end }}", {"l": ["a", "b"]},
     "0=a;1=b;\n"),
    ("{{ $x := .Values.n | int }}{{ add $x 1 }}", {"n": "41"}, "42\n"),
    ("k:\n  {{- toYaml .Values.o | nindent 2 }}", {"o": {"b": 1, "a": [1]}},
     "k:\n  a:\n  - 1\n  b: 1\n"),
    ("a: 1\nb: {{ now }}\nc: 3", {}, "a: 1\nc: 3\n"),
    ("{{/* a comment */}}x: {{ printf \"%s-%d\" \"a\" 3 }}", {}, "x: a-3\n"),
    ("{{ if and .Values.a (not .Values.b) }}yes{{ end }}", {"a": True}, "yes\n"),
    ("{{ ternary \"on\" \"off\" .Values.a }}", {"a": False}, "off\n"),
    ("{{ default (print \"a\") .Values.b }}|{{ (dict \"k\" \"v\").k }}", {"b": "x"}, "x|v\n"),
    ("{{ if semverCompare \">=1.19-0\" .Capabilities.KubeVersion.GitVersion }}new{{ end }}",
     {}, "new\n"),
    ("{{ if semverCompare \"<1.19-0\" .Capabilities.KubeVersion.GitVersion }}old{{ end }}",
     {}, ""),
])
def test_substitution(template: str, values: dict[str, object], expected: str) -> None:
    nodes, defines = gotmpl.parse(template)
    root = {"Values": values, "Capabilities": {"KubeVersion": {"GitVersion": "v1.31.0"}}}
    out = gotmpl.render_template(gotmpl.Renderer(defines, root), nodes, "t")
    assert out.text == expected


def test_line_map_follows_trimming() -> None:
    nodes, defines = gotmpl.parse("a: 1\n{{- if true }}\nb: 2\n{{- end }}\n\nc: {{ 3 }}\n")
    out = gotmpl.render_template(gotmpl.Renderer(defines, {}), nodes, "t")
    assert out.text == "a: 1\nb: 2\n\nc: 3\n"
    assert out.lines == [1, 3, 5, 6]
    nodes, defines = gotmpl.parse("{{- if true -}}\n\n  a: 1\n{{- end }}\nb: {{ 2 -}}\n\n  x\n")
    out = gotmpl.render_template(gotmpl.Renderer(defines, {}), nodes, "t")
    assert out.text == "a: 1\nb: 2x\n"
    assert out.lines == [3, 5]


def test_helm_template_output_when_helm_is_installed(tmp_path: Path) -> None:
    root = tmp_path / "p"
    write(root, _chart())
    rendered = ("---\n# Source: shop/templates/deployment.yaml\napiVersion: apps/v1\n"
                "kind: Deployment\nmetadata:\n  name: release-name-shop\nspec:\n  template:\n"
                "    spec:\n      containers:\n        - name: shop\n          image: a:1\n"
                "          securityContext:\n            privileged: true\n")
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered)
    fake = tmp_path / "helm"
    fake.write_text(f"#!/bin/sh\n[ \"$1\" = template ] || exit 3\ncat '{out}'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    objects, problems, files = helm.analyse_chart(iac_file(root, "charts/shop/Chart.yaml"),
                                                  root, Budget(), helm=str(fake))
    assert problems == [] and files == 1
    assert [(o.address, o.path) for o in objects] == [
        ("Deployment/default/release-name-shop", "charts/shop/templates/deployment.yaml")]
    line = objects[0].line(("spec", "template", "spec", "containers", 0, "securityContext"))
    assert line == DEPLOYMENT.split("\n").index("          securityContext:") + 1


def test_service_account_of_the_chart_disables_automount(scan: Scan) -> None:
    helpers = HELPERS + ('{{- define "shop.sa" -}}\n{{- if .Values.sa.create }}\n'
                         '{{- default (include "shop.fullname" .) .Values.sa.name }}\n'
                         '{{- else }}\n{{- default "default" .Values.sa.name }}\n'
                         '{{- end }}\n{{- end }}\n')
    account = ('{{- if .Values.sa.create -}}\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n'
               '  name: {{ include "shop.sa" . }}\n'
               'automountServiceAccountToken: {{ .Values.sa.automount }}\n{{- end }}\n')
    deployment = DEPLOYMENT.replace("    spec:\n", "    spec:\n      serviceAccountName: "
                                    '{{ include "shop.sa" . }}\n', 1)
    files = _chart({"charts/shop/templates/_helpers.tpl": helpers,
                    "charts/shop/templates/deployment.yaml": deployment,
                    "charts/shop/templates/sa.yaml": account},
                   values=VALUES + "sa:\n  create: true\n  automount: {flag}\n")
    for flag, reported in (("false", False), ("true", True)):
        files["charts/shop/values.yaml"] = VALUES + f"sa:\n  create: true\n  automount: {flag}\n"
        result = scan(files, charts=("charts/shop/Chart.yaml",))
        assert result.problems == []
        assert "ServiceAccount/default/release-name-shop" in {r.name for r in result.resources}
        assert bool(rule_hits(result, "iac.k8s.sa-token-automount")) is reported


def test_subchart_sees_the_parent_values(scan: Scan) -> None:
    files = {f"app/{rel}": text for rel, text in _chart(
        values=VALUES.replace("  privileged: true\n", "  privileged: false\n")).items()}
    files["app/Chart.yaml"] = CHART.replace("name: shop", "name: app")
    files["app/values.yaml"] = "shop:\n  securityContext:\n    privileged: true\n"
    result = scan(files, charts=("app/Chart.yaml", "app/charts/shop/Chart.yaml"))
    hits = rule_hits(result, "iac.k8s.privileged")
    assert [h.path for h in hits] == ["app/charts/shop/templates/deployment.yaml"]


def test_subchart_turned_off_by_its_condition(scan: Scan) -> None:
    files = {f"app/{rel}": text for rel, text in _chart().items()}
    files["app/Chart.yaml"] = CHART.replace("name: shop", "name: app") + (
        "dependencies:\n- name: shop\n  version: 0.1.0\n  condition: shop.enabled\n")
    for enabled, found in (("false", 0), ("true", 1)):
        files["app/values.yaml"] = f"shop:\n  enabled: {enabled}\n"
        result = scan(files, charts=("app/Chart.yaml", "app/charts/shop/Chart.yaml"))
        assert len(rule_hits(result, "iac.k8s.privileged")) == found


def test_helm_subchart_rendered_twice_is_reported_once(scan: Scan, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    doc = ("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: release-name-shop\n"
           "spec:\n  template:\n    spec:\n      containers:\n        - name: shop\n"
           "          image: a:1\n          securityContext:\n            privileged: true\n")
    tools = tmp_path.parent / f"{tmp_path.name}-tools"
    tools.mkdir()
    (tools / "parent.yaml").write_text("# Source: app/charts/shop/templates/deployment.yaml\n"
                                       + doc)
    (tools / "sub.yaml").write_text("# Source: shop/templates/deployment.yaml\n" + doc)
    fake = tools / "helm"
    fake.write_text("#!/bin/sh\ncase \"$3\" in\n  */charts/shop) cat '" + str(tools / "sub.yaml")
                    + "' ;;\n  *) cat '" + str(tools / "parent.yaml") + "' ;;\nesac\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which",
                        lambda name, *a, **k: str(fake) if name == "helm" else real_which(name))
    files = {f"app/{rel}": text for rel, text in _chart().items()}
    files["app/Chart.yaml"] = CHART.replace("name: shop", "name: app")
    result = scan(files, charts=("app/Chart.yaml", "app/charts/shop/Chart.yaml"))
    hits = rule_hits(result, "iac.k8s.privileged")
    assert [(h.path, h.line) for h in hits] == [
        ("app/charts/shop/templates/deployment.yaml",
         DEPLOYMENT.split("\n").index("          securityContext:") + 1)]
