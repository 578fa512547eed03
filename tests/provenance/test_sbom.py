"""CycloneDX 1.6 SBOM / AI-BOM: valid against the 1.6 schema, dependencies and ML components."""

from __future__ import annotations

import json
from pathlib import Path

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from secpipe.provenance.sbom import build_sbom, read_requirements


def test_requirements_are_read_as_text_pins_first(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "# comment\nscikit_learn==1.4.2  # pinned\nflask>=3\n-e .\nrequests[socks]==2.32.3\n")
    (tmp_path / "requirements-dev.txt").write_text("flask==3.0.3\n")
    assert read_requirements(tmp_path) == [
        ("flask", "3.0.3", "requirements-dev.txt"),
        ("requests", "2.32.3", "requirements.txt"),
        ("scikit-learn", "1.4.2", "requirements.txt")]


def test_sbom_is_valid_cyclonedx_1_6_with_model_and_datasets(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("flask==3.0.3\nnumpy\n")
    text = build_sbom(tmp_path, "demo", "run-1", {"model/m.skops": "ab" * 32},
                      {"data/train.csv": "cd" * 32})
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text.decode()) is None
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    by_type = {(c["type"], c["name"]): c for c in bom["components"]}
    model = by_type[("machine-learning-model", "model/m.skops")]
    assert model["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert by_type[("data", "data/train.csv")]["hashes"][0]["content"] == "cd" * 32
    assert by_type[("library", "flask")]["purl"] == "pkg:pypi/flask@3.0.3"
    assert "version" not in by_type[("library", "numpy")]
    props = {p["name"]: p["value"] for p in bom["metadata"]["properties"]}
    assert props["secpipe:run-id"] == "run-1"
