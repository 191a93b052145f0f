"""Issue 11: a file without orientation shows letters marked assumed, an amber notice, and says so
in the Scan tab and on the PDF report; an oriented file shows none of it."""

import nibabel as nib
import numpy as np

from model.quality import ORIENTATION_UNKNOWN
from tests.model.test_orientation_honesty import write_unoriented
from tests.viewer.helpers import make_result, open_and_wait


def test_unoriented_file_is_shown_with_assumed_letters_and_a_warning(qtbot, window, tmp_path):
    scan = open_and_wait(qtbot, window, write_unoriented(tmp_path / "unoriented.nii"))
    for view in window.ortho.views.values():
        texts = [label.text() for label in view.letters.values()]
        assert all(t.endswith("?") for t in texts), texts
    notice = window.findChild(type(window.ortho.parent().notice), "OrientationNotice")
    assert notice.isVisible() and "ASSUMED" in notice.text() and "voxel size" in notice.text()
    warnings = window.header_panel.warnings_label.text()
    assert ORIENTATION_UNKNOWN in warnings and "No quality warnings" not in warnings
    assert "NOT IN THE HEADER" in window.header_panel.values["Orientation"].text()

    from viewer.controllers.export_content import build_report

    heatmap = np.zeros(scan.volume.shape, np.float32)
    report = build_report(
        scan,
        make_result(scan.volume, heatmap),
        None,
        radiological=True,
        window=(0, 1),
        invert=False,
        colormap="inferno",
        threshold=0.2,
        opacity=0.5,
        reader_name="R",
        impression=None,
        decision=None,
        peak_ijk=(1, 1, 1),
    )
    facts = dict(f for _, section in report.sections for f in section)
    assert ORIENTATION_UNKNOWN in facts["Quality warnings"] and "NOT IN THE HEADER" in facts["Orientation"]
    assert all(letter.endswith("?") for view in report.views for letter in view.letters.values())


def test_oriented_file_has_plain_letters_and_no_notice(qtbot, window, tmp_path):
    data = np.zeros((20, 24, 20), np.float32)
    data[3:-3, 3:-3, 3:-3] = np.random.default_rng(1).uniform(10, 20, (14, 18, 14))
    nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 1.0, 1.0])), tmp_path / "ok.nii.gz")
    open_and_wait(qtbot, window, tmp_path / "ok.nii.gz")
    assert window.ortho.views["axial"].letters["left"].text() in ("R", "L")
    assert not window.ortho.parent().notice.isVisible()
