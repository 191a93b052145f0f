"""The record of this scan, on screen: a table of every audit entry for the open scan (time UTC,
reader, impression, what the entry is -- an impression, a decision on the AI result or a kept
measurement, named as such, lengths to 0.1 mm as on screen -- and reason; the full entry and its hash
in the tooltip), and the confirmation asked before accepting an AI call that contradicts the
reader's recorded impression.

The entries are read from the audit log itself (:func:`model.record.audit.read_entries`, matched by
the scan file's SHA-256), so the table shows what the record holds, including entries of earlier
sessions, not a copy kept by the window.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHeaderView, QInputDialog, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from model.record.audit import AuditLogError, read_entries
from model.vocabulary import AI_DECISIONS
from viewer.services.record_sections import contradicts, measurement_text

COLUMNS = ("UTC", "Reader", "Impression", "Entry", "Reason")


def entry_text(entry: dict) -> str:
    """What an audit entry is, in the History's words (issue 30): ``"Impression"``, ``"Decision:
    reject"``, ``"Decision: override → normal"``, ``"Measurement: Atrial width …, left: 7.0 mm"``."""
    decision = entry.get("decision", "")
    if decision == "impression":
        return "Impression"
    if decision == "measurement":
        return "Measurement: " + measurement_text(entry.get("measurement") or {})
    if decision == "override":
        return f"Decision: override → {entry.get('override_call')}"
    if decision in AI_DECISIONS:
        return f"Decision: {decision}"
    return decision


def count_text(entries: list) -> str:
    """``"3 entries: 1 impression, 1 decision on the AI result, 1 measurement"``."""
    kinds = [e.get("decision") for e in entries]
    parts = [
        (kinds.count("impression"), "impression", "impressions"),
        (sum(k in AI_DECISIONS for k in kinds), "decision on the AI result", "decisions on the AI result"),
        (kinds.count("measurement"), "measurement", "measurements"),
        (kinds.count("finding"), "finding", "findings"),
    ]
    said = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in parts if n)
    head = f"{len(entries)} {'entry' if len(entries) == 1 else 'entries'}"
    return head + (f": {said}" if said else "")


def scan_entries(audit_path: str | Path, input_sha256: str | None) -> list:
    """Audit entries whose ``input_sha256`` is ``input_sha256``, oldest first ([] without a hash).

    Raises
    ------
    AuditLogError
        A line of the log is not JSON.
    """
    if not input_sha256:
        return []
    return [e for e in read_entries(audit_path) if e.get("input_sha256") == input_sha256]


class DecisionHistory(QWidget):
    """Per-scan decision history (a tab of the side panel), refreshed on every recorded decision.

    Attributes
    ----------
    table : QTableWidget
        One row per entry: :data:`COLUMNS`.
    """

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.setObjectName("DecisionHistory")
        self.window = window
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("DecisionHistoryTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(1, 90)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)  # long names elide
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        window.decision_recorded.connect(lambda _entry: self.refresh())
        window.state.scan_changed.connect(lambda _scan: self.refresh())
        self.refresh()

    def entries(self) -> list:
        volume = self.window.state.volume
        try:
            return scan_entries(self.window.audit_path, None if volume is None else volume.sha256)
        except AuditLogError as exc:
            self.caption.setText(f"The audit log cannot be read: {exc}")
            return []

    def refresh(self) -> None:
        volume = self.window.state.volume
        entries = self.entries()
        self.table.setRowCount(len(entries))
        for r, e in enumerate(entries):
            decision = e.get("decision", "")
            if decision != "finding":
                decision = entry_text(e)  # issue 30: named as what it is, lengths as on screen
            else:  # issue 29
                f = e.get("finding") or {}
                decision += f" {'agreed' if f.get('agreed') else 'not agreed'}: {f.get('kind', '')}"
            when = e.get("time_utc", "").replace("+00:00", "")
            values = (
                when[5:16].replace("T", " "),
                e.get("reader", ""),
                e.get("impression") or "—",
                decision,
                e.get("reason", "") + (f" [{e['chain_note']}]" if e.get("chain_note") else ""),
            )
            for c, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                item.setToolTip(f"{when} UTC, entry #{e.get('seq')}, hash {e.get('hash')}\n{value}")
                self.table.setItem(r, c, item)
        if volume is None:
            self.caption.setText("No scan open.")
        elif not volume.sha256:
            self.caption.setText("This scan is not from a file: its decisions cannot be matched in the audit log.")
        elif self.caption.text().startswith("The audit log cannot") and not entries:
            pass
        else:
            self.caption.setText(f"{count_text(entries)} recorded for this scan (SHA-256 {volume.sha256[:12]}…).")

    def ask_reason(self, impression: str, call: str, reason: str) -> str | None:
        """Accepting contradicts the impression: ask to confirm with a reason (None = cancelled).

        ``call`` is the AI result's flag in the app's one vocabulary (``"above threshold"`` /
        ``"below threshold"``, :class:`model.vocabulary.Flag`), never "normal" (issue 30).
        Tests replace this method."""
        text, ok = QInputDialog.getText(
            self.window,
            "Accept an AI result that contradicts your impression?",
            f"Your impression is '{impression}'; the AI result is '{call}'.\nTo accept the AI result, give the reason:",
            text=reason,
        )
        return text.strip() if ok and text.strip() else None


def check_accept(window, reason: str) -> str | None:
    """The reason to record with an accept, or None when the reader did not confirm.

    Accepting an AI call that contradicts the recorded impression needs a confirmation with a reason;
    the question names the result by its flag ("below threshold"), as everywhere else in the app.
    """
    st = window.state
    if not contradicts(st.impression, st.result):
        return reason
    return window.history.ask_reason(st.impression, str(st.result.flag), reason)
