"""The PDF report: written atomically, the expected pages, the facts a reader needs, the shared heatmap LUT."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from model.checkpoint import new_card
from model.heatmap import heatmap_lut, heatmap_rgba
from model.inference import AnalysisResult
from model.record.report import (
    DISCLAIMER,
    Report,
    ReportView,
    card_facts,
    format_probability,
    result_facts,
    scan_facts,
    write_report,
)
from model.volume import volume_from_array


def _volume():
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 100, (20, 24, 16)).astype(np.float32)
    return volume_from_array(data, np.diag([0.8, 0.8, 1.5, 1.0]))


def _result(volume, p=0.723):
    heatmap = np.zeros(volume.shape, np.float32)
    heatmap[12:16, 14:20, 6:10] = 1.0
    return AnalysisResult(
        probability=p,
        pass_probabilities=(p - 0.02, p + 0.02),
        heatmap=heatmap,
        affine=volume.affine,
        decision_threshold=0.5,
        indeterminate_band=0.1,
        model_name="gloresnet-test",
        model_version="1.2",
        weights_sha256="cd" * 32,
        demonstration=True,
        device="cpu",
    )


def _report(volume, result, views=True):
    card = new_card(
        "gloresnet-test", "1.2", demonstration=True, training={"data": "simulated cohort"}, metrics={"auc": 0.91}
    )
    sections = [
        ("AI result", result_facts(result)),
        ("Reader", [("Reader", "Dr Test"), ("Decision", "accept")]),
        ("Scan", scan_facts(volume, "sample")),
        ("Model", card_facts(card)),
    ]
    report_views = []
    if views:
        for title, image, hm in [
            ("Axial", volume.data[:, :, 8].T, result.heatmap[:, :, 8].T),
            ("Coronal", volume.data[:, 16, :].T, result.heatmap[:, 16, :].T),
            ("Sagittal", volume.data[13].T, result.heatmap[13].T),
        ]:
            rows, cols = image.shape
            report_views.append(
                ReportView(
                    title,
                    image,
                    hm,
                    (cols, 0, 0, rows),
                    {"left": "R", "right": "L", "top": "A", "bottom": "P"},
                    (5.0, 5.0),
                )
            )
    return Report(
        title="GloResNet second reader report",
        sections=sections,
        views=report_views,
        window=(0, 100),
        banner="Demonstration weights",
        convention="radiological",
        views_caption="Through the maximum",
    )


def _pdf_pages(raw: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", raw))


def test_report_pdf_has_three_pages_and_is_written_atomically(tmp_path):
    volume = _volume()
    path = tmp_path / "out" / "report.pdf"
    pages = write_report(path, _report(volume, _result(volume)))
    raw = path.read_bytes()
    assert pages == 3 and raw.startswith(b"%PDF") and len(raw) > 10_000  # summary + key images, facts, planes
    assert _pdf_pages(raw) == 3
    assert b"GloResNet second reader report" in raw  # document metadata title
    assert [p.name for p in path.parent.iterdir()] == ["report.pdf"]  # no temporary file left


def test_report_without_views_is_one_page(tmp_path):
    volume = _volume()
    assert write_report(tmp_path / "r.pdf", _report(volume, _result(volume), views=False)) == 1
    assert _pdf_pages((tmp_path / "r.pdf").read_bytes()) == 1


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_report_text_has_probability_threshold_decision_and_disclaimer(tmp_path):
    volume = _volume()
    result = _result(volume)
    write_report(tmp_path / "r.pdf", _report(volume, result))
    text = subprocess.run(
        ["pdftotext", "-layout", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    for needle in (
        "P(injury)",
        "72.3 %",
        "threshold 50.0 %",
        "TTA disagreement 4.0 points",
        "Dr Test",
        "gloresnet-test v1.2",
        "Research use only",
        "Axial",
        "Scan with heatmap",
        "not a lesion outline",
    ):
        assert needle in text, needle


def test_facts_say_what_the_reader_needs(t2_scan):
    from model.volume import load_volume

    volume = load_volume(t2_scan)
    facts = dict(scan_facts(volume))
    assert facts["SHA-256"] == volume.sha256 and facts["File"] == str(t2_scan)
    assert facts["Shape (RAS+)"] == "117 × 159 × 126 voxels"
    assert facts["Stored as"].startswith("LAS")
    assert "qform" in facts["qform / sform"] and "DISAGREE" not in facts["qform / sform"]
    result = dict(result_facts(_result(_volume(), 0.4567)))
    assert result["P(injury)"] == "45.7 %" == format_probability(0.4567)
    assert "indeterminate" in result["Call"]


def test_heatmap_lut_is_transparent_below_the_threshold_and_fades_in():
    lut = heatmap_lut("viridis", threshold=0.4)
    values = np.linspace(0, 1, 256)
    assert lut.shape == (256, 4) and lut.dtype == np.uint8
    assert lut[values < 0.4, 3].max() == 0
    assert lut[-1, 3] == 255 and np.all(np.diff(lut[values >= 0.4, 3].astype(int)) >= 0)
    first = int(np.argmax(values >= 0.4))
    assert lut[first, 3] < 40  # fades in rather than a hard edge
    rgba = heatmap_rgba(np.array([0.0, 1.0]), lut, opacity=0.5)
    assert rgba[0, 3] == 0 and rgba[1, 3] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="colormap"):
        heatmap_lut("jet-ish")
    with pytest.raises(ValueError, match="threshold"):
        heatmap_lut("inferno", 1.0)


def test_disclaimer_is_research_use_only():
    assert DISCLAIMER.startswith("Research use only")


def _page_text(path, page):
    return subprocess.run(
        ["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_page_one_holds_identifiers_result_and_key_images(tmp_path):
    volume = _volume()
    report = _report(volume, _result(volume))
    report.sections.insert(0, ("Patient and study", [("Patient name", "Baby Test"), ("Patient ID", "P-0001")]))
    write_report(tmp_path / "r.pdf", report)
    first = _page_text(tmp_path / "r.pdf", 1)
    for needle in (
        "Patient and study",
        "Baby Test",
        "P-0001",
        "72.3 %",
        "Key images with heatmap",
        "Axial",
        "not a lesion outline",
    ):
        assert needle in first, needle
    assert "Dr Test" not in first  # the reader's section follows on page 2
    assert "Dr Test" in _page_text(tmp_path / "r.pdf", 2)


def test_model_card_metrics_are_rows_not_a_python_dict():
    metrics = {
        "summary": {"auc": 0.8181, "sensitivity": 0.7037},
        "mean_sd_over_folds": {"auc": {"mean": 0.8224, "sd": 0.1005}, "sensitivity": {"mean": 0.7, "sd": 0.12}},
        "bootstrap_95ci_pooled": {"auc": [0.7222, 0.8996], "sensitivity": [0.58, 0.82]},
        "evaluation": "5-fold CV",
        "gradcam_pointing_game": {"n_cases": 23, "hit_rate": 0.0},
    }
    card = new_card("t", "1", demonstration=True, training={"data": "sim"}, metrics=metrics)
    facts = dict(card_facts(card))
    assert facts["AUC"] == "0.818 pooled out-of-fold; 0.822 ± 0.101 over folds; 95 % CI 0.722–0.900"
    assert facts["Sensitivity"].startswith("0.704 pooled")
    assert facts["Evaluation"] == "5-fold CV"
    assert facts["Gradcam pointing game"] == "n cases 23; hit rate 0.000"
    assert not any("{" in str(v) for v in facts.values())
