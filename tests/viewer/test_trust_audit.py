"""Issue 11: the window signs entries with the site key, verifies them, and asks after a break."""

import json

from model.record.audit import entry_hash
from tests.viewer.helpers import show_result


def _rehash(path, index, **changes):
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    entries[index].update(changes)
    prev = entries[0]["prev_hash"]
    for e in entries:
        e["prev_hash"], e["hash"] = prev, None
        e["hash"] = entry_hash(e)
        prev = e["hash"]
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")


def test_signed_entries_and_a_rehashed_chain_fails_verify(qtbot, reading, tmp_path):
    window = reading
    public = window.recorder.use_key_file(tmp_path / "site.pem", create=True)
    assert window.settings.q.value("audit/site_public_key") == public
    show_result(window)
    window.record_impression("normal")
    window.record_decision("reject", reason="motion")
    entries = [json.loads(line) for line in window.audit_path.read_text().splitlines()]
    assert all(e["signer"] == public and e["signature"] for e in entries)
    assert window.verify_audit_log().ok
    assert "signed by the site key" in window.last_message_box.text()

    _rehash(window.audit_path, 1, decision="accept")
    report = window.verify_audit_log()
    assert not report.ok and report.broken_line == 2
    assert "re-hashed" in window.last_message_box.text()


def test_without_a_key_verify_says_what_the_chain_cannot_show(qtbot, reading):
    window = reading
    window.record_impression("normal")
    assert window.verify_audit_log().ok
    assert "not deliberate rewriting" in window.last_message_box.text()


def test_after_a_failed_verification_recording_asks_and_notes_the_break(qtbot, reading, monkeypatch):
    window = reading
    show_result(window)
    window.record_impression("unsure")  # an accept then asks nothing about contradictions
    lines = window.audit_path.read_text().splitlines(keepends=True)
    window.audit_path.write_text(lines[0].replace('"unsure"', '"injury"'))  # an edit
    asked = []
    monkeypatch.setattr(window.recorder, "confirm_append_after_break", lambda report: asked.append(report) or False)
    assert window.record_decision("accept") is None  # declined: nothing appended
    assert len(window.audit_path.read_text().splitlines()) == 1 and len(asked) == 1
    assert "Not recorded" in window.statusBar().currentMessage()

    monkeypatch.setattr(window.recorder, "confirm_append_after_break", lambda report: True)
    entry = window.record_decision("reject", reason="edited log")
    assert entry is not None and "breaks at line 1" in entry["chain_note"]
