"""The reading room (issue 29): what the reader sees of the segmentation, its findings and measurements.

Every test asserts what is on screen: the RGBA the plane views draw, the status-bar readout, the
findings list and the measurements table, the cursor after N / Shift+N, the audit log.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QGuiApplication

from model.findings_types import CYSTIC_LESION, PUNCTATE_LESION
from model.measure import report_from_labels
from model.ood_gate import OODVerdict
from model.segmentation import SEG_CLASSES
from tests.viewer.helpers import WAIT_MS, audit_entries, make_result
from tests.viewer.reading_fixtures import CYST_CENTRE, PUNCTATE_VOXELS, drawn_scan

COLOUR = {c.value: c.colour for c in SEG_CLASSES}


# -- helpers ---------------------------------------------------------------------------------------------
def model_result(volume, labels, ood_reasons=(), probability=0.7):
    """A result as the weights' decoder gives it: labels on the volume's grid and their report."""
    result = make_result(volume, probability=probability)
    result.labels = labels
    result.label_confidence = np.ones(labels.shape, np.float16)
    result.report = report_from_labels(labels, volume.affine, source="model")  # what model.inference calls
    if ood_reasons:
        result.ood = OODVerdict(reasons=list(ood_reasons))
    return result


@pytest.fixture
def drawn(window):
    """The window showing the drawn scan (no result yet); returns the labels."""
    scan, labels = drawn_scan()
    window.state.set_scan(scan)
    window.settings.reader_name = "Dr Test"
    return labels


def show_model_segmentation(window, labels, **kw):
    result = model_result(window.state.volume, labels, **kw)
    window.state.set_result(result, card=None)
    return result


def drawn_pixel(window, plane: str, ijk) -> np.ndarray:
    """RGBA the segmentation layer of ``plane`` draws at voxel ``ijk`` (on the cursor's slice)."""
    view = window.ortho.views[plane]
    rgba = window.reading.layers[plane].displayed_rgba()
    if rgba is None:
        return np.zeros(4, np.uint8)
    g = view.geom
    return rgba[ijk[g.v_axis], ijk[g.h_axis]]


def press(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier):
    window.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is not None, timeout=5000)
    window.ortho.views["axial"].setFocus()
    qtbot.keyClick(window.ortho.views["axial"], key, modifier)


def save_labels(path, labels, affine, flip_x=False, dtype=np.float32):
    """Write a label map as NIfTI; ``flip_x`` stores it LAS (as the Serag files are) on the same world grid."""
    data, aff = labels, affine.copy()
    if flip_x:
        data = labels[::-1]
        aff = affine @ np.array([[-1, 0, 0, labels.shape[0] - 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float)
    img = nib.Nifti1Image(np.asarray(data, dtype), aff)
    img.set_sform(aff, code=1)
    img.set_qform(aff, code=1)
    nib.save(img, str(path))
    return path


def measurement_values(report) -> dict:
    return {m.key: (round(m.value, 9), m.unit) for m in report.measurements}


# -- overlay -------------------------------------------------------------------------------------------------
def test_overlay_draws_outlines_by_default_toggles_with_S_and_names_the_label_under_the_cursor(qtbot, window, drawn):
    show_model_segmentation(window, drawn)
    wm = np.argwhere(drawn == 3)  # a white-matter voxel with white matter all around it in its axial slice
    inner = next(tuple(v) for v in wm if (drawn[v[0] - 1 : v[0] + 2, v[1] - 1 : v[1] + 2, v[2]] == 3).all())
    window.state.set_cursor(inner)
    seg = window.reading.seg
    assert seg.visible and not seg.filled  # outlines first: the anatomy is never covered by default
    assert drawn_pixel(window, "axial", inner)[3] == 0  # inside a label: nothing drawn over the anatomy
    # a white-matter voxel on the white-matter / cortex border is outlined in the white-matter colour
    border = next(
        tuple(v) for v in wm if v[2] == inner[2] and (drawn[v[0] - 1 : v[0] + 2, v[1] - 1 : v[1] + 2, v[2]] == 2).any()
    )
    assert tuple(drawn_pixel(window, "axial", border)) == (*COLOUR[3], 255)
    assert "label: white matter" in window.readout_label.text()
    assert "white matter" in window.reading.findings_panel.cursor_label.text()

    press(qtbot, window, Qt.Key.Key_S)
    assert not seg.visible and window.reading.layers["axial"].displayed_rgba() is None
    assert all(layer.displayed_rgba() is None for layer in window.reading.layers.values())
    press(qtbot, window, Qt.Key.Key_S)
    assert seg.visible

    press(qtbot, window, Qt.Key.Key_S, Qt.KeyboardModifier.ShiftModifier)  # filled labels on request
    assert seg.filled and tuple(drawn_pixel(window, "axial", inner)) == (*COLOUR[3], 255)
    window.reading.findings_panel.legend[3].setChecked(False)  # per-label visibility from the legend
    assert drawn_pixel(window, "axial", inner)[3] == 0
    window.reading.findings_panel.opacity_slider.setValue(40)
    assert window.reading.layers["axial"].label_item.opacity() == pytest.approx(0.4)

    window.state.set_cursor(CYST_CENTRE)
    assert "label: cyst" in window.readout_label.text()


def test_findings_panel_lists_kind_size_location_and_evidence(qtbot, window, drawn):
    show_model_segmentation(window, drawn)
    panel = window.reading.findings_panel
    rows = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert len(rows) == 2 and rows[0].startswith("1. Cystic lesion") and "mm³" in rows[0]
    panel.list.setCurrentRow(0)
    text = panel.details_label.text()
    lesion = window.reading.seg.report.lesions[0]
    assert "cystic lesion" in text and f"{lesion.diameter_mm:.1f} mm" in text and f"{lesion.volume_mm3:.0f} mm³" in text
    x, y, z = lesion.centroid_ras_mm
    assert f"RAS ({x:.1f}, {y:.1f}, {z:.1f}) mm" in text
    assert "Evidence" in text and "Confidence" in text


def test_N_goes_to_the_next_finding_in_all_three_planes_with_its_component_ringed(qtbot, window, drawn):
    show_model_segmentation(window, drawn)
    seg = window.reading.seg
    kinds = [f.kind for f in seg.findings]
    assert kinds == [CYSTIC_LESION, PUNCTATE_LESION]
    press(qtbot, window, Qt.Key.Key_N)
    assert window.state.cursor == CYST_CENTRE  # the cyst's centroid
    for plane, view in window.ortho.views.items():
        assert view.slice_index == CYST_CENTRE[view.geom.slice_axis]
        ring = window.reading.layers[plane].displayed_highlight()
        assert ring is not None and ring[..., 3].any(), plane  # the component is ringed in every plane
        g = view.geom
        assert ring[CYST_CENTRE[g.v_axis], CYST_CENTRE[g.h_axis], 3] == 0  # ... around it, not over it
    assert window.reading.findings_panel.list.currentRow() == 0

    press(qtbot, window, Qt.Key.Key_N)
    centre = np.mean(PUNCTATE_VOXELS, axis=0)
    assert np.abs(np.array(window.state.cursor) - centre).max() <= 0.5  # nearest voxel of its centroid
    assert window.reading.findings_panel.list.currentRow() == 1
    press(qtbot, window, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)  # Shift+N: back to the cyst
    assert window.state.cursor == CYST_CENTRE
    window.reading.findings_panel.list.setCurrentRow(1)  # a click on a row goes there too
    assert np.abs(np.array(window.state.cursor) - centre).max() <= 0.5


def test_reader_first_hides_findings_measurements_and_injury_labels_until_the_impression(qtbot, window, drawn):
    window.set_reader_first(True)
    show_model_segmentation(window, drawn)
    seg, panel = window.reading.seg, window.reading.findings_panel
    assert seg.findings == [] and panel.list.count() == 0
    assert "hidden until you record your impression" in panel.notice_label.text()
    assert window.reading.measurements_panel.table.rowCount() == 0
    assert not window.reading.measurements_panel.table.isVisibleTo(window.reading.measurements_panel)
    # the tissue overlay stays; the cyst is drawn as the tissue around it, and not named
    window.reading.seg.set_filled(True)
    window.state.set_cursor(CYST_CENTRE)
    assert tuple(drawn_pixel(window, "axial", CYST_CENTRE)) == (*COLOUR[3], 255)
    assert "cyst" not in window.readout_label.text() and "label: white matter" in window.readout_label.text()
    assert not (window.reading.layers["axial"].displayed_rgba()[..., :3] == COLOUR[10]).all(-1).any()
    window.reading.next_finding_action.trigger()
    assert window.state.cursor == CYST_CENTRE  # nothing to go to: the cursor stays

    window.record_impression("injury")
    assert [f.kind for f in seg.findings] == [CYSTIC_LESION, PUNCTATE_LESION]
    assert panel.list.count() == 2 and window.reading.measurements_panel.table.rowCount() > 0
    assert tuple(drawn_pixel(window, "axial", CYST_CENTRE)) == (*COLOUR[10], 255)
    assert "label: cyst" in window.readout_label.text()


def test_an_out_of_distribution_scan_shows_no_findings_or_measurements_as_results(qtbot, window, drawn):
    show_model_segmentation(window, drawn, ood_reasons=["head too small for a neonate"])
    seg, panel, measures = window.reading.seg, window.reading.findings_panel, window.reading.measurements_panel
    assert seg.findings == [] and panel.list.count() == 0
    assert "Outside what these weights were trained on" in panel.notice_label.text()
    assert measures.table.rowCount() == 0 and "Outside what these weights" in measures.notice_label.text()
    assert all(layer.displayed_rgba() is None for layer in window.reading.layers.values())
    window.state.set_cursor(CYST_CENTRE)
    assert "label:" not in window.readout_label.text()
    assert window.reading.copy_measurements_csv() == ""

    assert panel.show_anyway_button.isVisibleTo(panel)
    panel.show_anyway_button.click()  # the reader asks: shown, and marked as not results
    assert len(seg.findings) == 2 and panel.list.count() == 2
    assert "not results" in panel.notice_label.text()
    assert window.panel.ood_notice.show_anyway.isChecked()  # the same "show anyway" as the probability


def test_weights_without_a_decoder_say_measurements_are_not_available(qtbot, make_window, small_weights):
    from tests.viewer.helpers import head_scan

    window = make_window(weights_dir=small_weights)
    window.state.set_scan(head_scan())
    with qtbot.waitSignal(window.analysis_finished, timeout=WAIT_MS) as done:
        window.start_analysis()
    assert not done.args[0].has_segmentation
    text = "Measurements are not available with these weights"
    assert text in window.reading.findings_panel.notice_label.text()
    assert text in window.reading.measurements_panel.notice_label.text()
    assert window.reading.seg.findings == [] and not window.reading.seg_visible_action.isEnabled()


# -- a label map from a file -----------------------------------------------------------------------------------
def test_label_map_from_a_file_gives_the_same_measurements_as_the_model_path(qtbot, window, drawn, tmp_path):
    volume = window.state.volume
    model = show_model_segmentation(window, drawn)
    model_values = measurement_values(window.reading.seg.report)
    assert model_values == measurement_values(model.report)
    path = save_labels(tmp_path / "sub-01_dseg.nii.gz", drawn, volume.affine, flip_x=True)  # stored LAS
    label_map = window.reading.open_segmentation(path)
    assert label_map is not None and "reoriented from LAS" in label_map.note
    seg = window.reading.seg
    assert seg.from_file and seg.report.source == str(path)
    assert measurement_values(seg.report) == model_values
    assert [(f.kind, f.location_ras_mm) for f in seg.report.findings] == [
        (f.kind, f.location_ras_mm) for f in model.report.findings
    ]
    assert path.name in window.reading.findings_panel.source_label.text()
    assert window.tabs.currentWidget() is window.reading.findings_tab


def test_the_network_map_written_and_read_back_measures_the_same(qtbot, make_window, seg_weights, tmp_path):
    """End to end: Analyse with a decoder, write its label map on the input's own grid, open it as a file."""
    window = make_window(weights_dir=seg_weights)
    scan, _ = drawn_scan()
    window.state.set_scan(scan)
    with qtbot.waitSignal(window.analysis_finished, timeout=WAIT_MS) as done:
        window.start_analysis()
    result = done.args[0]
    assert result.has_segmentation and result.report is not None
    volume = window.state.volume
    img = volume.source_image(result.labels.astype(np.float32))
    path = tmp_path / "network_dseg.nii.gz"
    nib.save(img, str(path))
    window.reading.open_segmentation(path)
    assert window.reading.seg.from_file
    assert measurement_values(window.reading.seg.report) == measurement_values(result.report)


def test_a_label_map_on_another_grid_is_refused_naming_the_file(qtbot, window, drawn, tmp_path):
    path = save_labels(tmp_path / "other_dseg.nii.gz", drawn[:, :, :-2], window.state.volume.affine)
    assert window.reading.open_segmentation(path) is None
    assert "other_dseg.nii.gz" in window.last_error and "grid" in window.last_error
    shifted = window.state.volume.affine.copy()
    shifted[0, 3] += 5.0
    path = save_labels(tmp_path / "shifted_dseg.nii.gz", drawn, shifted)
    assert window.reading.open_segmentation(path) is None
    assert "shifted_dseg.nii.gz" in window.last_error and "5.00 mm" in window.last_error
    assert window.reading.seg.labels is None


def test_serag_template_maps_are_detected_and_merged(qtbot, window, drawn, tmp_path):
    serag = drawn.copy()
    serag[serag == 10] = 3
    serag[serag == 11] = 3
    wm = np.argwhere(serag == 3)
    for v in wm[::7]:
        serag[tuple(v)] = 8  # high-intensity white matter, inside the white matter
    path = save_labels(tmp_path / "template-40.nii.gz", serag, window.state.volume.affine)
    label_map = window.reading.open_segmentation(path)
    assert label_map.convention == "serag" and "Serag" in label_map.note and "detected" in label_map.note
    assert set(np.unique(window.reading.seg.labels)) == {0, 1, 2, 3, 4, 5, 6, 7}
    # the dHCP reading of the same values is there when the reader chooses it (the dialog's other button)
    drawem = window.reading.open_segmentation(path, "drawem")
    assert drawem.convention == "drawem" and (window.reading.seg.labels == 6).sum() > (drawn == 6).sum()


def test_a_new_analysis_replaces_a_file_map_and_a_new_scan_clears_both(qtbot, window, drawn, tmp_path):
    path = save_labels(tmp_path / "a_dseg.nii.gz", drawn, window.state.volume.affine)
    window.reading.open_segmentation(path)
    assert window.reading.seg.from_file
    show_model_segmentation(window, drawn)
    assert not window.reading.seg.from_file and window.reading.seg.source == "model"
    scan, _ = drawn_scan()
    window.state.set_scan(scan)
    assert window.reading.seg.labels is None
    assert all(layer.displayed_rgba() is None for layer in window.reading.layers.values())


# -- the reader's agreement --------------------------------------------------------------------------------------
def test_agreeing_with_a_finding_is_recorded_in_the_audit_log_with_the_finding(qtbot, window, drawn):
    show_model_segmentation(window, drawn)
    panel = window.reading.findings_panel
    window.reading.next_finding_action.trigger()
    panel.agree_button.click()
    window.reading.next_finding_action.trigger()
    panel.disagree_button.click()
    entries = [e for e in audit_entries(window) if e["decision"] == "finding"]
    assert [e["finding"]["agreed"] for e in entries] == [True, False]
    cyst = entries[0]["finding"]
    assert cyst["kind"] == CYSTIC_LESION and cyst["location_ras_mm"] == [27.0, 26.0, 21.0]
    assert cyst["volume_mm3"] == 33.0 and cyst["source"] == "model" and cyst["diameter_mm"] > 0
    assert entries[0]["probability"] == pytest.approx(0.7)  # with the AI result it belongs to
    assert "✓ agreed" in panel.list.item(0).text() and "✗ not agreed" in panel.list.item(1).text()
    assert "did not agree" in panel.decision_label.text()
    assert "finding agreed: cystic lesion" in window.history.table.item(len(audit_entries(window)) - 2, 3).text()
    # read back from the log: a restart (here: the same scan opened again) shows the marks again
    window.state.set_scan(window.state.scan)
    show_model_segmentation(window, drawn)
    assert "✓ agreed" in panel.list.item(0).text()


# -- measurements ------------------------------------------------------------------------------------------------
def test_measurements_without_pma_are_values_only_with_a_prompt(qtbot, window, drawn):
    show_model_segmentation(window, drawn)
    measures = window.reading.measurements_panel
    assert "PMA unknown" in measures.notice_label.text() and measures.pma_button.isVisibleTo(measures)
    row = [m.key for m in window.reading.seg.report.measurements].index("ventricles_ml")
    assert measures.table.item(row, 1).text() == "0.28 ml"  # the value and its unit
    assert measures.table.item(row, 2).text() == "—" and measures.table.item(row, 3).text() == "—"
    assert measures.chart_point() is None and "enter the PMA" in measures.chart_caption.text()
    measures.pma_button.click()
    spin = window.measure.pma_spin
    assert spin.hasFocus() or window.tabs.currentWidget().isAncestorOf(spin)


def test_measurements_at_the_pma_show_references_z_flag_chart_and_copy_as_csv(qtbot, window, drawn):
    show_model_segmentation(window, drawn)
    window.measure.set_pma_weeks(40.0)  # the reader's entry; the report is remade at that age
    seg, measures = window.reading.seg, window.reading.measurements_panel
    qtbot.waitUntil(lambda: "40.0 weeks" in measures.source_label.text(), timeout=5000)
    report = seg.report
    wm = report.measurement("white_matter_ml")
    assert wm.reference is not None and wm.reference.sd is not None and wm.flag.endswith("low")
    row = [m.key for m in report.measurements].index("white_matter_ml")
    assert measures.table.horizontalHeaderItem(2).text() == "Ref. 40 wk"
    assert measures.table.item(row, 2).text() == f"{wm.reference.mean:.0f} ± {wm.reference.sd:.1f}"
    assert measures.table.item(row, 3).text().startswith(f"{wm.z:+.1f} (")
    assert measures.table.item(row, 4).text() == wm.flag
    assert "Romberg" in measures.sources_label.text() and "Serag" in measures.sources_label.text()
    measures.select_measure("white_matter_ml")
    assert measures.chart_point() == pytest.approx((40.0, wm.value))
    assert "this infant" in measures.chart_caption.text()
    text = window.reading.copy_measurements_csv()
    assert QGuiApplication.clipboard().text() == text
    header, *lines = text.splitlines()
    assert header.startswith("key,measure,value,unit,pma_weeks,reference_mean")
    wm_line = next(line for line in lines if line.startswith("white_matter_ml,"))
    assert ",40," in wm_line and wm.flag in wm_line and "Romberg" in wm_line
    # a white-matter volume below its reference is a finding now (with its evidence)
    kinds = [f.kind for f in seg.findings]
    assert "white-matter volume reduction" in kinds


def test_typing_n_and_s_in_a_text_field_is_text_not_a_shortcut(qtbot, window, drawn):
    show_model_segmentation(window, drawn)
    window.activateWindow()
    edit = window.reader_panel.reason_edit
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus, timeout=5000)
    cursor = window.state.cursor
    qtbot.keyClicks(edit, "ns NS")
    assert edit.text() == "ns NS"
    assert window.state.cursor == cursor and window.reading.seg.visible and not window.reading.seg.filled


def test_help_lists_the_reading_room_keys_and_file_open_segmentation(qtbot, window):
    from viewer.panels.shortcuts import menu_actions

    by_text = {a.text().replace("&", ""): a for _, a in menu_actions(window.menuBar())}
    assert by_text["Show segmentation"].shortcut().toString() == "S"
    assert by_text["Filled labels"].shortcut().toString() == "Shift+S"
    assert by_text["Next finding"].shortcut().toString() == "N"
    assert by_text["Previous finding"].shortcut().toString() == "Shift+N"
    assert "Open segmentation…" in by_text


def test_the_pma_of_the_scans_own_sidecar_is_used_until_the_reader_enters_one(qtbot, window, tmp_path):
    import json

    from tests.viewer.helpers import open_and_wait, save_nifti

    scan, labels = drawn_scan()
    path = save_nifti(tmp_path / "sub-01_T2w.nii.gz", scan.volume.data, scan.volume.affine)
    (tmp_path / "sub-01_T2w.json").write_text(json.dumps({"PostMenstrualAge": 39.5}))
    open_and_wait(qtbot, window, path)
    window.reading.open_segmentation(save_labels(tmp_path / "sub-01_dseg.nii.gz", labels, scan.volume.affine))
    report = window.reading.seg.report
    assert report.pma_weeks == 39.5 and "sidecar" in report.pma_source
    assert "PMA 39.5 weeks (JSON sidecar" in window.reading.measurements_panel.source_label.text()
    window.measure.set_pma_weeks(41.0)  # the reader's entry wins
    qtbot.waitUntil(lambda: window.reading.seg.report.pma_weeks == 41.0, timeout=5000)
    assert window.reading.seg.report.pma_source == "reader"
