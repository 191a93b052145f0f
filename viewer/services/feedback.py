"""Telling the reader: one-line errors, status messages, information boxes, and "replace this file?".

A service shared by the main window, the batch dialog and the controllers, so every error reaches
the reader the same way -- one line in a non-blocking message box and in the status bar, never a
traceback (tracebacks go to the log) -- and every export asks the same question before it replaces
a file. Qt widgets only; no model logic.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QMessageBox, QStatusBar, QWidget

log = logging.getLogger(__name__)

#: How long a status message stays, ms.
STATUS_MS = 8000
ERROR_STATUS_MS = 10000


def one_line(message: str, fallback: str = "") -> str:
    """The first non-empty line of ``message`` (``fallback`` when there is none)."""
    lines = [line.strip() for line in str(message).strip().splitlines() if line.strip()]
    return lines[0] if lines else fallback


def confirm_overwrite(parent: QWidget | None, path: str | Path) -> bool:
    """Ask before replacing ``path`` (a modal Yes/No question, No by default); True to replace it.

    THE overwrite question of the viewer: exports, the PDF report, the worklist CSV. Callers that
    tests drive replace their own ``confirm_overwrite`` method, which calls this.
    """
    path = Path(path)
    answer = QMessageBox.question(
        parent,
        "Replace file?",
        f"{path.name} already exists in {path.parent}.\nReplace it?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class Feedback:
    """Error and status feedback for one window.

    Parameters
    ----------
    parent : QWidget
        Owner of the message boxes.
    status_bar : QStatusBar or None
        Where one-line messages also go.

    Attributes
    ----------
    last_error : str or None
        The last error shown (one line).
    last_message_box : QMessageBox or None
        The last information box opened (tests read it).
    """

    def __init__(self, parent: QWidget, status_bar: QStatusBar | None = None):
        self.parent = parent
        self.status_bar = status_bar
        self.last_error: str | None = None
        self.last_message_box: QMessageBox | None = None

    def status(self, text: str, ms: int = STATUS_MS) -> None:
        """A message in the status bar for ``ms`` (0: until replaced)."""
        if self.status_bar is not None:
            self.status_bar.showMessage(text, ms)

    def error(self, title: str, message: str) -> None:
        """Tell the reader in one line (non-blocking message box + status bar); never a traceback."""
        text = one_line(message, title)
        self.last_error = text
        log.info("%s: %s", title, text)
        self.status(text, ERROR_STATUS_MS)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("ErrorBox")
        box.open()

    def message(self, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox:
        """A non-blocking message box (kept in :attr:`last_message_box`)."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_message_box = box
        return box
