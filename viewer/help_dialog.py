"""Help > User guide: the README's reading section, shipped with the app and shown offline.

The text is ``resources/help/user-guide.md``, a copy of README.md's "Reading a scan" section made
by :func:`reading_section` (a test keeps the two equal), rendered with ``QTextBrowser.setMarkdown``
(Qt's CommonMark + GitHub tables). Nothing is fetched; links to the web are not followed.
"""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout

ROOT = Path(__file__).resolve().parent.parent
GUIDE_PATH = ROOT / "resources" / "help" / "user-guide.md"
README_PATH = ROOT / "README.md"
SECTION_TITLE = "## Reading a scan"


def reading_section(readme_text: str) -> str:
    """README's "Reading a scan" section (its heading up to the next ``## `` heading), as Markdown.

    Raises
    ------
    ValueError
        The README has no such section.
    """
    lines = readme_text.splitlines()
    try:
        start = lines.index(SECTION_TITLE)
    except ValueError as exc:
        raise ValueError(f"README has no '{SECTION_TITLE}' section") from exc
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(["# User guide: reading a scan", "", *lines[start + 1 : end]]).rstrip() + "\n"


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


if __name__ == "__main__":  # regenerate the shipped copy: python -m viewer.help_dialog
    GUIDE_PATH.parent.mkdir(parents=True, exist_ok=True)
    GUIDE_PATH.write_text(reading_section(README_PATH.read_text(encoding="utf-8")), encoding="utf-8")
    print(GUIDE_PATH)
