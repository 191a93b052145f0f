"""The batch worklist with the segmentation's measures (issue 29): ventricle volume and its deviation, white-matter
volume, number of lesions and a findings summary; sortable; filterable ("Ventricles above the 97th centile");
"n/a" without a decoder, "not given" outside the training domain; hidden like the probability in reader-first mode.
"""

import json
import math

import nibabel as nib
import pytest
from PyQt6.QtCore import Qt

from model.bids import ScanEntry
from model.findings_types import (
    CYSTIC_LESION,
    PUNCTATE_LESION,
    VENTRICULAR_DILATATION,
    Finding,
    Lesion,
    Measurement,
    Reference,
    SegmentationReport,
)
from model.ood_gate import OODVerdict
from model.score import COLUMNS, ScoreEvent
from model.seg_outputs import NO_DECODER_TEXT, worklist_cells
from tests.viewer.test_batch_dialog import run_batch, table
from viewer.batch.worklist_model import SORT_ROLE, BlindedWorklist, WorklistModel, WorklistProxy
from viewer.services.blinding import Blinding


class _Result:
    """What worklist_cells reads of an analysis result."""

    def __init__(self, report, ood_reasons=()):
        self.report = report
        self.ood = OODVerdict(reasons=list(ood_reasons))


def _report(vent_ml, vent_z, wm_ml, wm_z, kinds=(), pma=40.0):
    def measure(key, name, value, z):
        ref = Reference("site reference (test)", pma, value - (z or 0.0), 1.0) if z is not None else None
        centile = None if z is None else float(100 * 0.5 * (1 + math.erf(z / math.sqrt(2))))
        return Measurement(key, name, value, "ml", reference=ref, z=z, centile=centile)

    lesions = [
        Lesion(k, 10 if k == CYSTIC_LESION else 11, i + 1, 20.0, 3.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
        for i, k in enumerate(kinds)
        if k != VENTRICULAR_DILATATION
    ]
    findings = [Finding(k, f"{k} {i}") for i, k in enumerate(kinds)]
    return SegmentationReport(
        measurements=[
            measure("ventricles_ml", "Ventricles", vent_ml, vent_z),
            measure("white_matter_ml", "White matter", wm_ml, wm_z),
        ],
        lesions=lesions,
        findings=findings,
        pma_weeks=pma,
        pma_source="test",
    )


def _event(name, p, cells, sha):
    row = {c: "" for c in COLUMNS}
    row.update(file=name, status="scored", flag="below threshold", p_injury=f"{p:.6f}", input_sha256=sha, **cells)
    return ScoreEvent(row=row, done=1, total=5, skipped=False)


CASES = {
    "a.nii.gz": (0.10, _Result(_report(4.2, 0.3, 170.0, 0.1)), "aa"),
    "b.nii.gz": (0.80, _Result(_report(12.8, 2.6, 150.0, -0.4, (VENTRICULAR_DILATATION,))), "bb"),
    "c.nii.gz": (0.60, _Result(_report(6.1, 1.8, 110.0, -2.3, (CYSTIC_LESION, PUNCTATE_LESION))), "cc"),
    "d.nii.gz": (0.20, _Result(None), "dd"),  # weights without a decoder
    "e.nii.gz": (0.99, _Result(_report(30.0, 9.0, 90.0, -5.0), ["head size 1500 ml"]), "ee"),  # out of distribution
}


@pytest.fixture
def worklist(qtbot, tmp_path):
    model, proxy = WorklistModel(), WorklistProxy()
    proxy.setSourceModel(model)
    model.set_entries([ScanEntry(tmp_path / name, name) for name in CASES])
    for name, (p, result, sha) in CASES.items():
        model.apply_event(_event(name, p, worklist_cells(result), sha))
    return model, proxy


def _column(model, proxy, key, role=Qt.ItemDataRole.DisplayRole):
    col = model.column[key]
    return [proxy.index(r, col).data(role) for r in range(proxy.rowCount())]


def test_measures_and_findings_are_columns_of_the_worklist(worklist):
    model, proxy = worklist
    headers = [model.headerData(i, Qt.Orientation.Horizontal) for i in range(model.columnCount())]
    for header in ("Ventricles (ml)", "Ventricles z", "WM (ml)", "Lesions", "Findings"):
        assert header in headers
    shown = dict(zip(_column(model, proxy, "file"), zip(*(_column(model, proxy, k) for k in model.SEGMENTATION))))
    keys = list(model.SEGMENTATION)
    row = dict(zip(keys, shown["c.nii.gz"]))
    assert row == {
        "ventricles_ml": "6.10",
        "ventricles_z": "+1.8",
        "white_matter_ml": "110.00",
        "lesion_count": "2",
        "findings": "cystic lesion; punctate white-matter lesion",
    }
    assert dict(zip(keys, shown["b.nii.gz"]))["findings"] == "ventricular dilatation"
    assert dict(zip(keys, shown["a.nii.gz"]))["findings"] == "none"
    assert set(shown["d.nii.gz"]) == {"n/a"}  # no decoder
    assert set(shown["e.nii.gz"]) == {"not given"}  # outside the training domain: no measures as results
    col = model.column["ventricles_z"]
    tip = proxy.index(_column(model, proxy, "file").index("b.nii.gz"), col).data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("z +2.60, centile 100") and "PMA 40.0 weeks" in tip
    tip = proxy.index(_column(model, proxy, "file").index("d.nii.gz"), col).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == f"Measurements {NO_DECODER_TEXT}"


def test_measures_sort_as_numbers_with_empty_cells_last(worklist):
    model, proxy = worklist
    col = model.column["ventricles_ml"]
    proxy.sort(col, Qt.SortOrder.DescendingOrder)
    assert _column(model, proxy, "file")[:3] == ["b.nii.gz", "c.nii.gz", "a.nii.gz"]
    assert _column(model, proxy, "ventricles_ml", SORT_ROLE)[:3] == [12.8, 6.1, 4.2]
    proxy.sort(model.column["lesion_count"], Qt.SortOrder.AscendingOrder)
    assert _column(model, proxy, "lesion_count")[:3] == ["0", "0", "2"]


def test_filters_ventricles_above_the_97th_centile_white_matter_below_the_3rd_findings_and_lesions(worklist):
    model, proxy = worklist
    proxy.set_flag_filter("Ventricles above the 97th centile")
    assert _column(model, proxy, "file") == ["b.nii.gz"]  # z 2.6 (centile 99.5); c: z 1.8, the 96.4th
    proxy.set_flag_filter("White matter below the 3rd centile")
    assert _column(model, proxy, "file") == ["c.nii.gz"]
    proxy.set_flag_filter("With findings")
    assert _column(model, proxy, "file") == ["b.nii.gz", "c.nii.gz"]
    proxy.set_flag_filter("With lesions")
    assert _column(model, proxy, "file") == ["c.nii.gz"]
    proxy.set_flag_filter("All rows")
    proxy.setFilterFixedString("cystic")
    assert _column(model, proxy, "file") == ["c.nii.gz"]


def test_reader_first_hides_deviations_lesions_and_findings_like_the_probability(worklist):
    model, _ = worklist
    blinding = Blinding()
    blinding.set_reader_first(True)
    proxy = WorklistProxy()
    proxy.setSourceModel(BlindedWorklist(model, blinding))
    for key in ("ventricles_z", "lesion_count", "findings", "p_injury"):
        assert set(_column(model, proxy, key)) == {"hidden"}, key
    assert "12.80" in _column(model, proxy, "ventricles_ml")  # a volume alone is anatomy, not a call
    proxy.set_flag_filter("With findings")
    assert proxy.rowCount() == 0  # the filter reveals nothing either
    proxy.set_flag_filter("Ventricles above the 97th centile")
    assert proxy.rowCount() == 0


def test_batch_dialog_scores_a_folder_with_weights_that_segment(qtbot, tmp_path, seg_weights, monkeypatch):
    from tests.model.seg_cases import drawn_head
    from viewer.batch import dialog as batch_dialog
    from viewer.batch.dialog import BatchDialog, install_batch_menu
    from viewer.main_window import MainWindow

    monkeypatch.setattr(batch_dialog, "worklist_cache_dir", lambda: tmp_path / "cache")
    window = MainWindow(weights_dir=seg_weights, device="cpu")
    qtbot.addWidget(window)
    volume, _ = drawn_head()
    folder = tmp_path / "scans"
    folder.mkdir()
    nib.save(nib.Nifti1Image(volume.data, volume.affine), folder / "baby.nii.gz")
    (folder / "baby.json").write_text(json.dumps({"PostMenstrualAge": 40}))
    install_batch_menu(window).trigger()
    dialog = window.findChild(BatchDialog)
    dialog.set_folder(folder)
    assert run_batch(qtbot, dialog) == "done"
    (row,) = [it.row for it in dialog.model.items()]
    assert row["segmentation"] == "available" and row["pma_weeks"] == "40.0"
    assert table(dialog, "ventricles_ml") == [f"{float(row['ventricles_ml']):.2f}"]
    assert table(dialog, "lesion_count") == [row["lesion_count"]] and table(dialog, "findings") == [row["findings"]]
    assert table(dialog, "white_matter_ml")[0] != ""
