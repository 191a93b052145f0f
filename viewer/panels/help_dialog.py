"""Help > User guide: how to read a scan with the app, written for the radiologist, shipped with the
app and shown offline.

The text is ``resources/help/user-guide.md``, written for its reader (issue 30: it used to be a
copy of the README's developer text); it covers opening NIfTI and DICOM, the out-of-distribution
notice, reader-first mode, the record, measurements and findings, exports and the batch worklist.
It is rendered with ``QTextBrowser.setMarkdown`` (Qt's CommonMark + GitHub tables). Nothing is
fetched; links to the web are not followed.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

ROOT = Path(__file__).resolve().parents[2]
GUIDE_PATH = ROOT / "resources" / "help" / "user-guide.md"


def guide_text() -> str:
    """The shipped guide ('' replaced by a one-line note when the file is missing)."""
    try:
        return GUIDE_PATH.read_text(encoding="utf-8")
    except OSError:
        return f"The user guide is missing from this installation ({GUIDE_PATH})."


class UserGuideDialog(QDialog):
    """Non-modal window showing the guide. ``browser`` is the QTextBrowser."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("User guide")
        self.resize(760, 680)
        self.browser = QTextBrowser()
        self.browser.setObjectName("UserGuide")
        self.browser.setOpenExternalLinks(False)
        self.browser.setMarkdown(guide_text())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


def show_user_guide(window) -> UserGuideDialog:
    """Help > User guide (F1 stays Keyboard shortcuts)."""
    dialog = window.findChild(UserGuideDialog)
    if dialog is None:
        dialog = UserGuideDialog(window)
    dialog.show()
    dialog.raise_()
    return dialog
