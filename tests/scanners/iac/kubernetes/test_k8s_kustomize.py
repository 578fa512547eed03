"""Kustomize overlays: built with ``kubectl kustomize``, findings placed at the base file and
reported once; without kubectl the overlay is a partial-render problem."""

from __future__ import annotations

import shutil

import pytest

from conftest import Scan, rule_hits
from secpipe.scanners.iac.kubernetes import kustomize

BASE = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      automountServiceAccountToken: false
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
      - name: app
        image: nginx:1.27.2
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities:
            drop: [ALL]
"""

PATCH = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: app
        securityContext:
          privileged: true
"""

FILES = {
    "base/deployment.yaml": BASE,
    "base/kustomization.yaml": "resources:\n- deployment.yaml\n",
    "overlays/prod/kustomization.yaml": ("resources:\n- ../../base\nnamePrefix: prod-\n"
                                         "namespace: prod\npatches:\n- path: privileged.yaml\n"),
    "overlays/prod/privileged.yaml": PATCH,
}

@pytest.mark.external
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_overlay_built_and_deduplicated(scan: Scan) -> None:
    result = scan(dict(FILES))
    assert result.problems == []
    privileged = rule_hits(result, "iac.k8s.privileged")
    assert len(privileged) == 1
    hit = privileged[0]
    assert hit.path == "base/deployment.yaml"
    assert hit.line == BASE.split("\n").index("      - name: app") + 1  # the container's line
    assert hit.resource == "Deployment/prod/prod-web container app"
    assert "kustomize build of overlays/prod/kustomization.yaml" in hit.message
    limits = rule_hits(result, "iac.k8s.no-resource-limits")
    assert len(limits) == 1 and limits[0].path == "base/deployment.yaml"  # base + 2 builds
    assert all(h.path != "overlays/prod/privileged.yaml" for h in result.hits)


@pytest.mark.external
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_overlay_resource_without_scanned_source(scan: Scan) -> None:
    pod = ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n"
           "  hostPID: true\n  containers: []\n")
    files = {"app/kustomization.yaml": "resources:\n- pod.yaml\n",
             "app/pod.yaml": pod.format(name="p") + "---\n" + pod.format(name="q")}
    result = scan(files, manifests=("app/kustomization.yaml",))
    hits = rule_hits(result, "iac.k8s.host-namespaces")
    assert [(h.path, h.line, h.resource) for h in hits] == [
        ("app/kustomization.yaml", 1, "Pod/default/p"),
        ("app/kustomization.yaml", 1, "Pod/default/q")]


def test_without_kubectl_bases_are_scanned(scan: Scan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    result = scan(dict(FILES))
    partial = sorted(p.path for p in result.problems if p.rule_id == "iac.partial-render")
    assert partial == ["base/kustomization.yaml", "overlays/prod/kustomization.yaml"]
    assert rule_hits(result, "iac.k8s.privileged") == []  # the patch is not applied…
    assert all(h.path == "base/deployment.yaml" for h in result.hits)  # …nor checked alone
    assert len(rule_hits(result, "iac.k8s.no-resource-limits")) == 1


def test_remote_resources_are_not_fetched(scan: Scan, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("kubectl must not run")

    monkeypatch.setattr(kustomize, "run_tool", refuse)
    files = {"k/kustomization.yaml":
             "resources:\n- https://github.com/example/app//deploy?ref=v1\n- pod.yaml\n",
             "k/pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"
                           "  hostIPC: true\n  containers: []\n"}
    result = scan(files)
    assert [p.rule_id for p in result.problems] == ["iac.partial-render"]
    assert "remote" in result.problems[0].message
    assert len(rule_hits(result, "iac.k8s.host-namespaces")) == 1


def test_kustomization_found_next_to_a_manifest(scan: Scan,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    result = scan(dict(FILES), manifests=("base/deployment.yaml",))
    assert [p.path for p in result.problems] == ["base/kustomization.yaml"]


@pytest.mark.external
@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_component_is_built_only_inside_the_overlay_that_names_it(scan: Scan) -> None:
    component = ("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
                 "patches:\n- path: privileged.yaml\n")
    files = {**FILES,
             "overlays/prod/kustomization.yaml": "resources:\n- ../../base\n"
                                                 "components:\n- ../../components/debug\n",
             "components/debug/kustomization.yaml": component,
             "components/debug/privileged.yaml": PATCH}
    del files["overlays/prod/privileged.yaml"]
    result = scan(files)
    assert result.problems == []  # the component alone is not built (it cannot be)
    hits = rule_hits(result, "iac.k8s.privileged")
    assert len(hits) == 1 and hits[0].path == "base/deployment.yaml"  # through the overlay
