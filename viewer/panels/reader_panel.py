"""The reader's controls: impression (normal / injury / unsure), accept / reject / override the AI
result with an optional reason, what was recorded last, and where the audit log is.

The buttons are bound to the main window's Reader actions; recording (and writing the audit log,
``model.record.audit``) is the main window's job. This panel only shows :class:`ViewerState`'s reader
fields.
"""

from __future__ import annotations

from datetime import datetime

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QGridLayout, QGroupBox, QLabel, QLineEdit, QToolButton, QVBoxLayout

from model.vocabulary import DECISION_TEXT
from viewer.state import ViewerState


class ReaderPanel(QGroupBox):
    """Reader workflow controls.

    Attributes
    ----------
    reason_edit : QLineEdit
        Optional reason recorded with the next decision (cleared after it).
    status_label : QLabel
        The last decision recorded for this scan.
    mode_label : QLabel
        Says whether reader-first mode is on.
    audit_label : QLabel
        Where the audit log is.
    """

    def __init__(self, state: ViewerState, parent=None):
        super().__init__("Reader", parent)
        self.state = state
        self.setObjectName("ReaderPanel")
        self.impression_buttons: dict = {}
        self.decision_buttons: dict = {}
        self.mode_label = QLabel()
        self.mode_label.setObjectName("HintLabel")
        self.mode_label.setWordWrap(True)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("Reason (optional), recorded with the decision")
        self.reason_edit.setClearButtonEnabled(True)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.audit_label = QLabel()
        self.audit_label.setObjectName("HintLabel")
        self.audit_label.setWordWrap(True)
        self.audit_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(4)
        self.grid.setVerticalSpacing(4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.setSpacing(5)
        layout.addWidget(self.mode_label)
        layout.addLayout(self.grid)
        layout.addWidget(self.reason_edit)
        layout.addWidget(self.status_label)
        layout.addWidget(self.audit_label)

        state.reader_changed.connect(self.refresh)
        state.scan_changed.connect(self.refresh)
        state.result_changed.connect(self.refresh)
        self.refresh()

    def set_actions(self, impression_actions: dict, decision_actions: dict) -> None:
        """Bind buttons to the main window's actions: ``{"normal": QAction, ...}``, ``{"accept": QAction, ...}``."""
        caption = QLabel("Impression")
        caption.setObjectName("DetailName")
        self.grid.addWidget(caption, 0, 0)
        for col, (key, action) in enumerate(impression_actions.items(), start=1):
            self.impression_buttons[key] = self._button(action, 0, col)
        caption = QLabel("AI result")
        caption.setObjectName("DetailName")
        self.grid.addWidget(caption, 1, 0)
        for col, (key, action) in enumerate(decision_actions.items(), start=1):
            self.decision_buttons[key] = self._button(action, 1, col)
        for col in range(1, 4):
            self.grid.setColumnStretch(col, 1)

    def _button(self, action, row, col) -> QToolButton:
        button = QToolButton()
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setSizePolicy(button.sizePolicy().Policy.Expanding, button.sizePolicy().Policy.Fixed)
        self.grid.addWidget(button, row, col)
        return button

    def set_audit_path(self, path) -> None:
        self.audit_label.setText(f"Audit log: {path}")
        self.audit_label.setToolTip(str(path))

    def refresh(self, *_args) -> None:
        st = self.state
        if st.reader_first:
            self.mode_label.setText("Reader-first mode: record your impression; the AI result appears after it.")
        else:
            self.mode_label.setText("Record your impression, then accept, reject or override the AI result.")
        entry = st.last_decision
        if entry is None:
            text = "Impression: " + (st.impression or "not recorded") + ". No decision recorded for this scan."
            if st.volume is None:
                text = "Open a scan to record a reading."
        else:
            when = _local_time(entry.get("time_utc", ""))
            what = DECISION_TEXT.get(entry.get("decision"), entry.get("decision"))
            if entry.get("decision") == "impression":
                what = f"recorded the impression “{entry.get('impression')}”"
            elif entry.get("decision") == "override":
                what += f" (reader's call: {entry.get('override_call')})"
            text = f"Recorded: {entry.get('reader')} {what} at {when}."
            if entry.get("reason"):
                text += f" Reason: {entry['reason']}"
        self.status_label.setText(text)


def _local_time(iso_utc: str) -> str:
    try:
        return datetime.fromisoformat(iso_utc).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return iso_utc
