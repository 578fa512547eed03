"""Unit tests of the pieces: scoring, confidence intervals, perturbations, SVG, formats."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from secpipe.ml.card import confidence_interval, t_quantile
from secpipe.ml.formats import detect_format
from secpipe.ml.perturb import TEXT, perturb_tabular, perturb_text
from secpipe.ml.scoring import expected_calibration_error, metric_key, score
from secpipe.ml.svg import confusion_svg, roc_svg


def test_binary_decision_scores_give_sklearns_auc_and_no_calibration() -> None:
    y = ["neg", "pos", "pos", "neg", "pos", "neg"]
    decision = [-2.0, 1.5, 0.2, 0.3, -0.1, -1.0]
    pred = ["pos" if d > 0 else "neg" for d in decision]
    s = score(y, pred, ["neg", "pos"], decision=decision)
    expected = roc_auc_score([v == "pos" for v in y], decision)
    assert s.metrics["roc_auc_pos"] == pytest.approx(expected)
    assert s.metrics["roc_auc_ovr"] == pytest.approx(expected)  # both classes, same AUC
    assert "ece" not in s.metrics and "brier" not in s.metrics


def test_auc_is_left_out_for_a_class_absent_from_the_holdout() -> None:
    proba = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.7, 0.2, 0.1]]
    s = score(["a", "b", "a"], ["a", "b", "a"], ["a", "b", "c"], proba=proba)
    assert "roc_auc_c" not in s.metrics and "roc_auc_a" in s.metrics
    assert s.labels == ["a", "b", "c"] and s.confusion[2] == [0, 0, 0]


def test_ece_of_a_perfectly_calibrated_model_is_zero() -> None:
    correct = np.array([True] * 8 + [False] * 2)
    assert expected_calibration_error(correct, np.full(10, 0.8)) == pytest.approx(0.0)
    assert expected_calibration_error(np.array([True, True]), np.array([0.5, 0.5])) == \
        pytest.approx(0.5)


def test_metric_keys_are_safe_names() -> None:
    assert metric_key("Path Traversal") == "path_traversal"
    assert metric_key("<script>") == "script"
    assert metric_key("***") == "class"


def test_t_interval_matches_the_table() -> None:
    assert t_quantile(4) == pytest.approx(2.776)
    mean, low, high = confidence_interval([0.9, 0.92, 0.94, 0.96, 0.98])
    half = 2.776 * np.std([0.9, 0.92, 0.94, 0.96, 0.98], ddof=1) / math.sqrt(5)
    assert (mean, low, high) == pytest.approx((0.94, 0.94 - half, 0.94 + half))
    assert confidence_interval([0.5]) == (0.5, 0.5, 0.5)


@pytest.mark.parametrize("family", sorted(TEXT))
def test_text_families_are_deterministic_and_change_attacks(family: str) -> None:
    payloads = ["GET /search?q=1' OR 1=1-- &page=2 <script>alert(1)</script>"] * 3
    first, second = perturb_text(family, payloads, 0), perturb_text(family, payloads, 0)
    assert first == second
    assert any(p != payloads[0] for p in first)


def test_tabular_noise_is_bounded_by_the_column_range() -> None:
    rows = [[0.0, 10.0], [1.0, 20.0], [2.0, 30.0]]
    noisy = perturb_tabular(rows, 5.0, seed=1)
    for column, (lo, hi) in enumerate([(0.0, 2.0), (10.0, 30.0)]):
        assert all(lo <= r[column] <= hi for r in noisy)
    assert noisy != rows


def test_svg_escapes_labels_and_is_well_formed() -> None:
    svg = confusion_svg(["<b>&x", "ok"], [[3, 1], [0, 5]])
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.attrib["viewBox"].startswith("0 0 ")
    assert "&lt;b&gt;&amp;x" in svg and "<b>" not in svg
    roc = roc_svg({"a<": ([0.0, 0.5, 1.0], [0.0, 0.9, 1.0], 0.87)})
    ET.fromstring(roc)  # noqa: S314 - our own output
    assert "AUC 0.870" in roc


def test_formats_are_read_from_bytes(tmp_path: Path) -> None:
    pkl = tmp_path / "model.bin"
    pkl.write_bytes(b"\x80\x04\x95" + b"\0" * 20)
    st = tmp_path / "weights"
    st.write_bytes((2).to_bytes(8, "little") + b"{}")
    assert detect_format(pkl) == "pickle"
    assert detect_format(st) == "safetensors"
    (tmp_path / "x.onnx").write_bytes(b"\x08\x07rest")
    assert detect_format(tmp_path / "x.onnx") == "onnx"
    (tmp_path / "junk.skops").write_bytes(b"PK\x03\x04not a zip")
    assert detect_format(tmp_path / "junk.skops") == "unknown"
