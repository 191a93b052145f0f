"""A one-line label that gives way: it elides its text ("…") to the width it gets instead of making
the window wider (issue 30: a DICOM series' long identifiers and an oblique-acquisition notice
widened the main window past a 1600-pixel screen).

Its preferred width is the whole text, so it shows all of it when there is room; its minimum width
is a few characters, so no long text sets the window's minimum size. ``text()`` is the whole text,
:meth:`ElidedLabel.shown_text` what is drawn; the whole text is the tooltip unless one is set.
Plain text only.
"""

from __future__ import annotations

from PyQt6.QtCore import QSize, Qt
from PyQt6.QtWidgets import QLabel, QSizePolicy

#: Characters (before the ellipsis) a label keeps at its minimum width.
MIN_CHARS = 8


class ElidedLabel(QLabel):
    """QLabel that elides its (plain) text to its width; see the module docstring.

    Parameters
    ----------
    text : str
    mode : Qt.TextElideMode
        Where the ellipsis goes (default at the end).
    tooltip : bool
        Show the whole text as the tooltip while it is elided (default True).
    """

    def __init__(self, text: str = "", parent=None, mode=Qt.TextElideMode.ElideRight, tooltip: bool = True):
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self._auto_tooltip = tooltip
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(False)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text) -> None:  # noqa: N802 - Qt API
        self._full = "" if text is None else str(text)
        self.updateGeometry()
        self._elide()

    def text(self) -> str:
        """The whole text (not what is drawn: :meth:`shown_text`)."""
        return self._full

    def shown_text(self) -> str:
        """The text as drawn now (ends in "…" when elided)."""
        return super().text()

    def is_elided(self) -> bool:
        return self.shown_text() != self._full

    def _extra(self) -> int:
        """Width the label adds around its text (margins, indent, style-sheet padding)."""
        return super().sizeHint().width() - self.fontMetrics().horizontalAdvance(super().text())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt API
        hint = super().sizeHint()
        return QSize(self._extra() + self.fontMetrics().horizontalAdvance(self._full) + 1, hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt API
        hint = super().minimumSizeHint()
        head = self._full[:MIN_CHARS] + ("…" if len(self._full) > MIN_CHARS else "")
        width = self._extra() + self.fontMetrics().horizontalAdvance(head) + 1
        return QSize(min(width, self.sizeHint().width()), hint.height())

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt hook
        super().resizeEvent(ev)
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width() - 2 * self.margin() - max(0, self.indent())
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(0, width))
        if shown != super().text():
            super().setText(shown)
        if self._auto_tooltip:
            self.setToolTip(self._full if shown != self._full else "")
