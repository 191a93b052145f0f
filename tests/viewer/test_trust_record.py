"""Issue 11: decisions with their history (on screen, confirmation of a contradicting accept, every
entry on the report), the ruler in mm kept with the record, and the PMA at scan."""

import json

import numpy as np
import pytest

from model.vocabulary import MEASURES
from tests.viewer.helpers import head_scan, show_result


@pytest.fixture
def reading(window):
    window.settings.reader_name = "Dr Test"
    scan = head_scan(spacing_mm=(0.5, 0.8, 2.0))
    scan.volume.sha256 = "ef" * 32
    window.state.set_scan(scan)
    return window


def _report(window):
    from viewer.controllers.export_content import build_report

    st = window.state
    return build_report(
        st.scan,
        st.result,
        None,
        radiological=True,
        window=st.window,
        invert=False,
        colormap="inferno",
        threshold=0.2,
        opacity=0.5,
        reader_name="Dr Test",
        impression=st.impression,
        decision=st.last_decision,
        peak_ijk=st.heatmap_peak,
        record=window.exports.reading_record(),
    )


def test_accepting_a_call_that_contradicts_the_impression_asks_for_a_reason(qtbot, reading, monkeypatch):
    window = reading
    show_result(window, p=0.9)  # AI: injury
    window.record_impression("normal")
    asked = []
    monkeypatch.setattr(window.history, "ask_reason", lambda imp, call, reason: asked.append((imp, call)) or None)
    assert window.record_decision("accept") is None  # not confirmed: nothing recorded
    assert asked == [("normal", "above threshold")]  # issue 30: one vocabulary, never "the AI calls normal"
    monkeypatch.setattr(window.history, "ask_reason", lambda imp, call, reason: "second look: PVL")
    entry = window.record_decision("accept")
    assert entry["decision"] == "accept" and entry["reason"] == "second look: PVL"

    window.record_impression("injury")  # agreeing: no question
    monkeypatch.setattr(window.history, "ask_reason", lambda *a: pytest.fail("asked although they agree"))
    assert window.record_decision("accept") is not None


def test_history_lists_every_decision_and_the_report_every_entry_with_hashes(qtbot, reading, monkeypatch):
    window = reading
    show_result(window, 0.9)
    window.record_impression("injury")
    window.record_decision("reject", reason="motion")
    window.record_decision("override", reason="on review", override_call="normal")
    window.record_impression("normal")  # the last entry is an impression again
    table = window.history.table
    rows = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    assert [r[3] for r in rows] == ["Impression", "Decision: reject", "Decision: override → normal", "Impression"]
    assert rows[1][1] == "Dr Test" and rows[1][4] == "motion" and rows[0][2] == "injury"
    assert "4 entries: 2 impressions, 2 decisions on the AI result" in window.history.caption.text()

    entries = [json.loads(line) for line in window.audit_path.read_text().splitlines()]
    report = _report(window)
    sections = dict(report.sections)
    history = sections["Decision history (every audit entry for this scan)"]
    assert len(history) == 4 and all(e["hash"] in text for e, (_, text) in zip(entries, history))
    assert "reject" in history[1][1] and "reason: motion" in history[1][1]
    assert dict(sections["Audit record"])["Chain head"] == entries[-1]["hash"]
    assert "not deliberate rewriting" in dict(sections["Audit record"])["Signatures"]
    reader = dict(sections["Reader"])
    assert reader["Decision"].startswith("override")  # not "impression"


def test_ruler_measures_mm_on_anisotropic_voxels_and_is_kept_in_the_record(qtbot, reading):
    window = reading
    window.ortho.views["coronal"].setFocus()
    window.ortho.active_plane  # noqa: B018 - the coronal plane is active
    view = window.ortho.views[window.ortho.active_plane]
    g = view.geom
    sh, sv = window.state.volume.spacing_mm[g.h_axis], window.state.volume.spacing_mm[g.v_axis]
    ruler = window.measure.place_ruler()
    ruler.set_ends_mm((2 * sh, 3 * sv), (6 * sh, 6 * sv))  # 4 voxels across, 3 up
    expected = float(np.hypot(4 * sh, 3 * sv))
    assert ruler.length_mm() == pytest.approx(expected, abs=1e-6)
    assert window.measure.length_label.text() == f"{expected:.1f} mm"
    assert ruler.label.toPlainText() == f"{expected:.1f} mm"
    assert window.measure.measure_combo.itemText(0) == "Atrial width of the lateral ventricle"
    assert "Anterior horn width" in [
        window.measure.measure_combo.itemText(i) for i in range(window.measure.measure_combo.count())
    ]
    entry = window.measure.keep()
    m = entry["measurement"]
    assert entry["decision"] == "measurement" and m["measure"] == "atrial_width"
    assert m["length_mm"] == pytest.approx(expected, abs=1e-3) and m["plane"] == view.plane
    assert window.history.table.item(0, 3).text().startswith("Measurement: Atrial width")
    show_result(window, 0.9)
    facts = dict(dict(_report(window).sections)["Measurements"])
    assert facts[MEASURES["atrial_width"]].startswith(f"{expected:.1f} mm")


def test_pma_is_shown_with_the_result_stored_and_warned_outside_28_to_44(qtbot, reading):
    window = reading
    panel = window.measure
    show_result(window, 0.9)
    panel.set_pma_weeks(26.0)
    assert (not panel.pma_warning_label.isHidden()) and "outside 28-44 weeks" in panel.pma_warning_label.text()
    assert panel.pma_box.isVisibleTo(window.panel)  # issue 30: entered with the scan and the result
    entry = window.record_impression("normal")
    assert entry["pma_weeks"] == 26.0
    assert "WARNING" in dict(dict(_report(window).sections)["AI result"])["PMA at scan"]
    panel.set_pma_weeks(40.0)
    assert not (not panel.pma_warning_label.isHidden())
    assert dict(dict(_report(window).sections)["AI result"])["PMA at scan"] == "40.0 weeks"


def test_pma_is_the_readers_entry_and_stays_in_reader_first_mode(qtbot, reading):
    window = reading
    window.reader_first_action.setChecked(True)
    show_result(window, 0.9)
    window.measure.set_pma_weeks(38.0)
    assert not window.panel.result_box.isVisibleTo(window.panel)  # the AI result stays hidden ...
    assert window.measure.pma_box.isVisibleTo(window.panel) and window.measure.pma_spin.isEnabled()  # ... not the PMA


def test_new_tabs_are_reachable_like_the_others(qtbot, reading):
    window = reading
    window.header_action.trigger()  # walks every tab
    assert window.tabs.currentWidget().widget() is window.header_panel
    window.show_tab(window.history)
    assert window.tabs.currentWidget().widget() is window.history
