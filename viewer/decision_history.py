"""The decisions made on this scan, on screen: a table of every audit entry for the open scan
(time UTC, reader, impression, decision, reason; the full entry and its hash in the tooltip), and the confirmation asked before accepting an AI
call that contradicts the reader's recorded impression.

The entries are read from the audit log itself (:func:`model.record.audit.read_entries`, matched by
the scan file's SHA-256), so the table shows what the record holds, including entries of earlier
sessions, not a copy kept by the window.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHeaderView, QInputDialog, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from model.record.audit import AuditLogError, read_entries
from viewer.record_sections import ai_call, contradicts

COLUMNS = ("UTC", "Reader", "Impression", "Decision", "Reason")


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
            if decision == "override":
                decision += f" → {e.get('override_call')}"
            elif decision == "measurement":
                m = e.get("measurement") or {}
                decision += f" {m.get('length_mm')} mm"
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
            self.caption.setText(f"{len(entries)} decision(s) recorded for this scan (SHA-256 {volume.sha256[:12]}…).")

    def ask_reason(self, impression: str, call: str, reason: str) -> str | None:
        """Accepting contradicts the impression: ask to confirm with a reason (None = cancelled).
        Tests replace this method."""
        text, ok = QInputDialog.getText(
            self.window,
            "Accept an AI call that contradicts your impression?",
            f"You recorded '{impression}', the AI calls '{call}'.\nTo accept the AI call, give the reason:",
            text=reason,
        )
        return text.strip() if ok and text.strip() else None


def check_accept(window, reason: str) -> str | None:
    """The reason to record with an accept, or None when the reader did not confirm.

    Accepting an AI call that contradicts the recorded impression needs a confirmation with a reason.
    """
    st = window.state
    if not contradicts(st.impression, st.result):
        return reason
    return window.history.ask_reason(st.impression, ai_call(st.result), reason)
