"""The PDF report with a segmentation (issue 29) and its out-of-distribution and layout rules (issue 30 items 2, 8).

What the reader sees is checked with ``pdftotext`` (text and word boxes): the measurements table with
its references at the infant's PMA (or "PMA unknown"), the growth charts, the key images at each
finding; for an out-of-distribution scan no P(injury), no heatmap, no measurements or findings
unless "show anyway"; no text running into other text, no doubled full stops, each number of the
out-of-distribution reason said once.
"""

import re
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest

from model.ood_gate import FEATURE_REASON, OODVerdict
from model.record.reading_report import build_reading_report, complete_report, plane_views
from model.record.report import Report, ReportView, result_facts, write_report
from tests.model.seg_cases import drawn_head, seg_result

needs_pdftotext = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (apt poppler-utils) is not installed"
)


@pytest.fixture(scope="module")
def head():
    return drawn_head()


def _text(path, first=None, last=None) -> str:
    pages = (["-f", str(first)] if first else []) + (["-l", str(last)] if last else [])
    return subprocess.run(
        ["pdftotext", "-layout", *pages, str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def _words(path) -> list:
    """(page, word, x0, y0, x1, y1) of every word (pdftotext -bbox)."""
    html = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    out = []
    for page, body in enumerate(re.split(r"<page [^>]*>", html)[1:], 1):
        for m in re.finditer(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', body
        ):
            x0, y0, x1, y1 = (float(v) for v in m.groups()[:4])
            out.append((page, m.group(5), x0, y0, x1, y1))
    return out


def _overlaps(words, slack=0.6) -> list:
    """Pairs of words on one page whose boxes overlap by more than ``slack`` points both ways."""
    found = []
    for page in {w[0] for w in words}:
        boxes = [w for w in words if w[0] == page]
        for a in range(len(boxes)):
            for b in range(a + 1, len(boxes)):
                _, wa, ax0, ay0, ax1, ay1 = boxes[a]
                _, wb, bx0, by0, bx1, by1 = boxes[b]
                dx = min(ax1, bx1) - max(ax0, bx0)
                dy = min(ay1, by1) - max(ay0, by0)
                if dx > slack and dy > slack:
                    found.append((page, wa, wb))
    return found


@needs_pdftotext
def test_report_has_measurements_with_references_growth_charts_and_key_images_at_each_finding(head, tmp_path):
    volume, labels = head
    result = seg_result(volume, labels, pma_weeks=40.0)
    report = build_reading_report(volume, result, None, name="drawn head")
    assert len(report.finding_views) == len(result.report.findings) >= 2
    assert report.charts and report.charts[0].name == "Ventricles" and report.charts[0].curve_pma  # the band by PMA
    pages = write_report(tmp_path / "r.pdf", report)
    text = _text(tmp_path / "r.pdf")
    for needle in (
        "Key images with heatmap",
        "Findings",
        "cystic lesion",
        "punctate white-matter lesion",
        "Measurements (from the model's segmentation)",
        "Reference at PMA",
        "Ventricles",
        "White matter",
        "References at PMA 40.0 weeks, from test",
        "[1] mean: Serag et al.",  # every reference names its source
        "no published spread",
        "Growth charts",
        "PMA (weeks)",
        "Key images at each finding",
        "Finding 1:",
        "Outlines: extra-cerebral CSF purple",
    ):
        assert needle in text, needle
    wm = result.report.measurement("white_matter_ml")
    row = next(line for line in text.splitlines() if line.strip().startswith("White matter "))
    assert f"{wm.value:.2f} ml" in row and f"{wm.reference.mean:.2f} ml ± {wm.reference.sd:.2f} ml" in row
    assert f"{wm.z:+.1f}" in row and wm.flag in row
    cyst = next(f for f in result.report.findings if f.kind == "cystic lesion")
    x, y, z = cyst.location_ras_mm
    assert f"at RAS ({x:.1f}, {y:.1f}, {z:.1f}) mm" in text.replace("\n", " ")
    assert pages == 1 + 2 + 1 + 1 + 1  # summary, measurements (table + charts), facts, planes, findings


@needs_pdftotext
def test_without_pma_values_only_with_pma_unknown_and_no_growth_chart(head, tmp_path):
    volume, labels = head
    report = build_reading_report(volume, seg_result(volume, labels, pma_weeks=None), None, name="x")
    assert report.charts == []
    write_report(tmp_path / "r.pdf", report)
    text = _text(tmp_path / "r.pdf")
    assert "PMA unknown: the measurements are given as values only" in text
    assert re.search(r"Ventricles\s+[\d.]+ ml\s+PMA unknown", text)
    assert "Growth charts" not in text and "PMA for references" in text


def _ood_result(volume, labels):
    result = seg_result(volume, labels, pma_weeks=40.0)
    result.ood = OODVerdict(
        reasons=["head size 1450 ml, 160 x 190 mm is not that of an infant", f"{FEATURE_REASON} (distance 12.3 > 4.5)"],
        score=12.3,
        threshold=4.5,
    )
    return result


@needs_pdftotext
def test_out_of_distribution_report_gives_no_probability_heatmap_measurements_or_findings(head, tmp_path):
    """Issue 30 item 2: without "show anyway" nothing of the result is printed; the reason is."""
    volume, labels = head
    result = _ood_result(volume, labels)
    report = build_reading_report(volume, result, None, name="adult")
    assert report.result_withheld.startswith("Outside what these weights were trained on")
    assert all(v.heatmap is None for v in report.views) and not report.finding_views and not report.tables
    write_report(tmp_path / "r.pdf", report)
    text = _text(tmp_path / "r.pdf")
    assert "73.0 %" not in text and "72.0 %" not in text and "74.0 %" not in text  # no P(injury), no TTA pass
    assert "not given: the scan is outside what these weights were trained on" in text
    assert "Key images with heatmap" not in text and "Scan with heatmap" not in text and "Grad-CAM" in text
    assert "No heatmap: Outside what these weights were trained on" in text.replace("\n", " ")
    assert "heatmap maximum" not in text  # nothing read off the heatmap either
    assert "Measurements (from" not in text and "Growth charts" not in text and "Key images at each finding" not in text
    assert "Measurements and findings" in text

    shown = build_reading_report(volume, result, None, name="adult", show_anyway=True)
    write_report(tmp_path / "shown.pdf", shown)
    text = _text(tmp_path / "shown.pdf")
    assert "73.0 % (NOT A CALL: outside what these weights were trained on" in text.replace("\n", " ")
    assert "Key images with heatmap" in text and "Measurements (from the model's segmentation)" in text


def test_result_facts_follow_the_disclosure_rule(head):
    volume, labels = head
    result = _ood_result(volume, labels)
    hidden = dict(result_facts(result))
    assert "%" not in hidden["P(injury)"] and "Uncertainty" not in hidden
    assert hidden["Call"].startswith("out of distribution")
    shown = dict(result_facts(result, show_anyway=True))
    assert shown["P(injury)"].startswith("73.0 % (NOT A CALL")
    assert dict(result_facts(seg_result(volume, labels)))["P(injury)"] == "73.0 %"


def test_the_out_of_distribution_reason_says_each_number_once_without_nested_brackets(head):
    """Issue 30 item 8: "... (distance 12.3 > 4.5). ... (feature distance 12.3 (threshold 4.5))" no more."""
    volume, labels = head
    domain = dict(result_facts(_ood_result(volume, labels)))["Training domain"]
    assert domain.count("12.3") == 1 and domain.count("4.5") == 1
    assert not re.search(r"\([^()]*\(", domain), domain
    assert ".." not in domain and "head size 1450 ml" in domain


@needs_pdftotext
def test_no_text_runs_into_other_text_and_no_doubled_full_stops(head, tmp_path):
    """Issue 30 item 8: "...lateral ventricl7.0 mm", a timestamp running into the reader's name, "..".

    Long labels wrap inside their column as the PDF font measures them; values wrap in theirs.
    """
    volume, labels = head
    result = seg_result(volume, labels, pma_weeks=40.0)
    report = build_reading_report(volume, result, None, name="drawn head")
    report.sections.insert(
        2,
        (
            "Measurements",
            [("Atrial width of the lateral ventricle", "7.0 mm (axial plane, left, voxels (1, 2, 3) to (4, 5, 6))")],
        ),
    )
    report.sections.insert(
        3,
        (
            "Decision history (every audit entry for this scan)",
            [
                (
                    "#12 2026-01-15T10:15:00+00:00",
                    "Dr Reader: accept; impression injury; reason: motion artefact.. Hash " + "ab" * 32,
                )
            ],
        ),
    )
    write_report(tmp_path / "r.pdf", report)
    words = _words(tmp_path / "r.pdf")
    text_pages = {w[0] for w in words if w[1] in ("Atrial", "#12", "Measure")}
    overlapping = _overlaps([w for w in words if w[0] in text_pages])
    assert overlapping == [], overlapping[:5]
    flat = [w[1] for w in words]
    assert "ventricle" in flat and "7.0" in flat and "Dr" in flat and "2026-01-15T10:15:00+00:00" in flat
    assert not any(re.search(r"[a-z]\d", w) and "ventricl" in w for w in flat)
    text = _text(tmp_path / "r.pdf")
    assert not re.search(r"(?<!\.)\.\s*\.(?!\.)", text), re.findall(r".{20}\.\s*\..{10}", text)


def test_plane_views_follow_the_viewers_geometry(head):
    """Radiological: patient right on the image's left; sagittal anterior on the left; row 0 at the bottom."""
    volume, labels = head
    at = (10, 20, 15)
    axial, coronal, sagittal = plane_views(volume, at, labels=labels)
    sx, sy, sz = volume.spacing_mm
    assert axial.letters == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert axial.extent_mm[0] > axial.extent_mm[1]  # mirrored: x grows to the left
    np.testing.assert_array_equal(axial.image, volume.data[:, :, 15].T)
    np.testing.assert_array_equal(coronal.labels, labels[:, 20, :].T)
    assert sagittal.letters["left"] == "A" and sagittal.extent_mm[0] > sagittal.extent_mm[1]
    assert axial.marker_mm == (10 * sx, 20 * sy) and sagittal.marker_mm == (20 * sy, 15 * sz)
    neurological = plane_views(volume, at, radiological=False)[0]
    assert neurological.letters["left"] == "L" and neurological.extent_mm[0] < neurological.extent_mm[1]


def test_complete_report_adds_the_segmentation_to_an_apps_report(head):
    """The app's report (built in viewer.controllers.export_content) gets the same parts through complete_report."""
    volume, labels = head
    result = seg_result(volume, labels, pma_weeks=40.0)
    views = [replace(v, heatmap=np.zeros_like(v.image)) for v in plane_views(volume, (20, 25, 18))]
    app = Report(
        title="t",
        sections=[
            ("AI result", [("PMA at scan", "40.0 weeks")] + result_facts(result)),
            ("Reader", [("Reader", "Dr A")]),
        ],
        views=views,
    )
    done = complete_report(app, volume, result, show_anyway=False)
    titles = [t for t, _ in done.sections]
    assert titles[:2] == ["AI result", "Findings (from the segmentation; each to be checked on the images)"]
    ai = dict(done.sections[0][1])
    assert ai["PMA at scan"] == "40.0 weeks" and ai["Findings"].startswith("cystic lesion")
    assert done.tables and done.finding_views and done.charts and done.result_withheld == ""
    assert all(isinstance(v, ReportView) for f in done.finding_views for v in f.views)
    highlighted = done.finding_views[0].views[0].highlight
    assert highlighted is not None and highlighted.any()
