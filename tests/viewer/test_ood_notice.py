"""A scan outside the training domain: the notice replaces the call, the probability is shown greyed
only on request, and the audit log records the verdict."""

import json

import numpy as np

from model.ood_gate import OODVerdict
from tests.viewer.helpers import head_scan, make_result

REASON = "head size 3989 ml, 186 x 218 mm (left-right x front-back) is not that of an infant of 28-44 weeks"


def _show(window, reasons):
    scan = head_scan()
    scan.volume.sha256 = "cd" * 32
    window.state.set_scan(scan)
    shape = scan.volume.shape
    ramp = np.broadcast_to(np.linspace(0.0, 1.0, shape[0], dtype=np.float32)[:, None, None], shape).copy()
    result = make_result(scan.volume, ramp, 0.91)  # a heatmap whose peak is off the centre
    result.ood = OODVerdict(reasons=list(reasons))
    window.state.set_result(result, card=None)
    return result


def test_out_of_distribution_notice_replaces_the_call(qtbot, window):
    _show(window, [REASON])
    notice = window.panel.ood_notice
    assert notice.isVisible() and notice.notice_label.text() == f"Outside what these weights were trained on: {REASON}"
    assert not window.panel.probability_label.isVisible() and not window.panel.flag_label.isVisible()
    passes = [window.panel.details[k] for k in ("identity", "flipped", "disagreement")]
    names = [window.panel.detail_names[k] for k in ("identity", "flipped", "disagreement")]
    assert not any(w.isVisible() for w in passes + names)  # the TTA passes would give the probability away
    assert window.panel.details["model"].isVisible()  # what ran is still said
    overlays = [view.overlay_item for view in window.ortho.views.values()]
    assert not any(o.isVisible() for o in overlays)  # no heatmap explaining a call that is not made
    cursor = window.state.cursor
    window.go_to_heatmap_peak()
    assert window.state.cursor == cursor  # nor a jump to its peak
    notice.show_anyway.setChecked(True)  # on request: shown, greyed, not a call
    assert all(o.isVisible() for o in overlays)
    assert window.panel.probability_label.isVisible() and window.panel.probability_label.text() == "91.0 %"
    assert all(w.isVisible() and "#9e9e9e" in w.styleSheet() for w in passes)
    assert "#9e9e9e" in window.panel.probability_label.styleSheet()
    assert "Out of distribution" in window.panel.flag_label.text()
    _show(window, [])  # the next, in-distribution result is a call again
    assert not notice.isVisible() and window.panel.probability_label.isVisible()
    assert all(w.isVisible() and "#9e9e9e" not in w.styleSheet() for w in passes)
    assert all(o.isVisible() for o in overlays)
    assert "#9e9e9e" not in window.panel.probability_label.styleSheet()
    assert not notice.show_anyway.isChecked()


def test_audit_entry_records_the_verdict(qtbot, window):
    window.settings.reader_name = "Dr Test"
    _show(window, [REASON])
    window.record_decision("reject", reason="adult scan")
    entry = json.loads(window.audit_path.read_text(encoding="utf-8").splitlines()[-1])
    assert entry["in_distribution"] is False and entry["ood_reasons"] == [REASON]
    assert entry["flag"] == "out of distribution"
