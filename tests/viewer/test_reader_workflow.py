"""The reader's workflow: reader-first mode, impressions and decisions, the audit log and its check,
and Model > Load weights."""

import shutil

import pytest
from PyQt6.QtWidgets import QInputDialog, QMessageBox

from model.record.audit import verify_chain
from tests.viewer.helpers import WAIT_MS, audit_entries, head_scan, show_result


def test_audit_log_lives_in_the_app_data_folder_and_is_shown(window, private_settings):
    assert window.audit_path.name == "audit-log.jsonl"
    assert str(window.audit_path).startswith(str(private_settings / "data"))  # QStandardPaths AppDataLocation
    assert str(window.audit_path) in window.reader_panel.audit_label.text()


def test_reader_first_hides_the_result_until_an_impression_is_recorded(qtbot, reading):
    window = reading
    window.reader_first_action.trigger()
    assert window.state.reader_first and window.settings.reader_first
    show_result(window)
    panel, axial = window.panel, window.ortho.views["axial"]
    assert not window.state.result_visible
    assert not panel.result_box.isVisible() and "reader-first" in panel.message_label.text()
    assert not axial.overlay_item.isVisible() and axial.displayed_heatmap() is None
    assert not window.decision_actions["accept"].isEnabled()
    assert not window.report_action.isEnabled() and not window.goto_peak_action.isEnabled()
    window.state.set_layout("2x2")
    assert window.ortho.info.probability_label.text() == "hidden"

    window.impression_actions["unsure"].trigger()
    assert window.state.impression == "unsure" and window.state.result_visible
    assert panel.result_box.isVisible() and axial.overlay_item.isVisible()
    assert window.decision_actions["accept"].isEnabled()
    entry = audit_entries(window)[-1]
    assert entry["decision"] == "impression" and entry["impression"] == "unsure"
    assert entry["ai_shown"] is False  # the impression was recorded before the AI result was seen
    assert "Dr Test" in window.reader_panel.status_label.text()


def test_accept_reject_and_override_append_chained_entries(qtbot, reading, monkeypatch):
    window = reading
    show_result(window, 0.7)
    window.impression_actions["injury"].trigger()
    window.reader_panel.reason_edit.setText("agree, WM signal")
    window.decision_actions["accept"].trigger()
    assert window.reader_panel.reason_edit.text() == ""  # the reason went with the decision
    window.decision_actions["reject"].trigger()
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("normal", True))
    window.decision_actions["override"].trigger()

    entries = audit_entries(window)
    assert [e["decision"] for e in entries] == ["impression", "accept", "reject", "override"]
    accept = entries[1]
    assert accept["reader"] == "Dr Test" and accept["input_sha256"] == "ef" * 32
    assert accept["model_name"] == "fake" and accept["weights_sha256"] == "ab" * 32
    assert accept["probability"] == pytest.approx(0.7) and accept["impression"] == "injury"
    assert accept["reason"] == "agree, WM signal" and accept["ai_shown"] is True
    assert entries[3]["override_call"] == "normal"
    for before, after in zip(entries, entries[1:]):
        assert after["prev_hash"] == before["hash"]
    assert window.state.last_decision["seq"] == 3
    assert "overrode" in window.reader_panel.status_label.text()


def test_missing_reader_name_is_asked_once_and_kept(qtbot, window, monkeypatch):
    window.state.set_scan(head_scan())
    asked = []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (asked.append(1), ("Dr Asked", True))[1])
    window.record_impression("normal")
    window.record_impression("injury")
    assert len(asked) == 1 and window.settings.reader_name == "Dr Asked"
    assert [e["reader"] for e in audit_entries(window)] == ["Dr Asked", "Dr Asked"]


def test_cancelled_reader_name_records_nothing(qtbot, window, monkeypatch):
    window.state.set_scan(head_scan())
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("", False))
    assert window.record_impression("normal") is None
    assert not window.audit_path.exists() and window.state.impression is None
    assert not window.impression_actions["normal"].isChecked()


def test_decisions_without_a_shown_result_are_refused(qtbot, reading):
    assert reading.record_decision("accept") is None
    assert "no AI result" in reading.last_error


def test_verify_audit_log_says_intact_then_finds_the_edited_line(qtbot, reading):
    window = reading
    show_result(window)
    window.record_impression("injury")  # agrees with the AI call (no confirmation asked)
    window.record_decision("accept")
    window.record_decision("reject", reason="motion")
    report = window.verify_audit_log()
    assert report.ok and report.n_entries == 3
    box = window.last_message_box
    assert box.isVisible() and "intact" in box.text() and box.icon() == QMessageBox.Icon.Information

    lines = window.audit_path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace('"accept"', '"reject"')
    window.audit_path.write_text("".join(lines), encoding="utf-8")
    window.verify_audit_action.trigger()
    box = window.last_message_box
    assert "line 2" in box.text() and box.icon() == QMessageBox.Icon.Critical
    assert verify_chain(window.audit_path).broken_line == 2


def test_a_new_scan_clears_the_impression_and_decision(qtbot, reading):
    window = reading
    show_result(window)
    window.record_impression("normal")
    window.state.set_scan(head_scan(seed=3))
    assert window.state.impression is None and window.state.last_decision is None
    assert not any(a.isChecked() for a in window.impression_actions.values())


def test_load_weights_shows_the_current_model(qtbot, window, small_weights):
    assert "random-test" in window.model_label.text()  # the start-up folder's card
    with qtbot.waitSignal(window.model_loaded, timeout=WAIT_MS):
        window.load_weights(small_weights)
    assert window.weights_dir == small_weights
    assert "small-test" in window.model_label.text() and "v0.0" in window.model_label.text()
    window.model_card_action.trigger()
    assert "small-test" in window.last_message_box.text() and "Intended use" in window.last_message_box.text()


def test_load_weights_explains_a_mismatch(qtbot, window, small_weights, tmp_path):
    folder = tmp_path / "tampered"
    shutil.copytree(small_weights, folder)
    raw = bytearray((folder / "model.safetensors").read_bytes())
    raw[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(raw))
    with qtbot.waitSignal(window.model_failed, timeout=WAIT_MS) as failed:
        window.load_weights(folder)
    assert "SHA-256" in failed.args[0] and "does not match the model card" in failed.args[0]
    assert window.weights_dir != folder and "random-test" in window.model_label.text()  # the model stays
    with qtbot.waitSignal(window.model_failed, timeout=WAIT_MS) as failed:
        window.load_weights(tmp_path / "nowhere")
    assert failed.args[0].startswith("No weights found")


def test_typing_a_reason_is_not_taken_by_single_key_shortcuts(qtbot, reading):
    window = reading
    show_result(window)
    window.activateWindow()
    edit = window.reader_panel.reason_edit
    edit.setFocus()
    qtbot.waitUntil(edit.hasFocus, timeout=5000)
    overlay, crosshair, invert = window.state.overlay_visible, window.crosshair_action.isChecked(), window.state.invert
    qtbot.keyClicks(edit, "chi+-=")
    assert edit.text() == "chi+-="
    assert (window.state.overlay_visible, window.crosshair_action.isChecked(), window.state.invert) == (
        overlay,
        crosshair,
        invert,
    )
    assert window.ortho.views["axial"].zoom_factor == 1.0
