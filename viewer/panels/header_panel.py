"""The scan's header facts: path, shape, voxel size, orientation, data type and scaling, qform/sform,
SHA-256, and the quality warnings -- what a reader checks before trusting the display or a score.

The facts are the same text the PDF report prints (``model.record.report.scan_facts``); a qform/sform
disagreement and an oblique affine get a visible warning, and
``model.quality.quality_warnings`` (computed once when the scan was opened) are listed.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFormLayout, QGroupBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from model.record.report import scan_facts
from viewer.state import ViewerState

QFORM_SFORM_WARNING = (
    "qform and sform disagree: the file holds two different positions for the scan; "
    "the sform was used (nibabel). Check the export from the scanner."
)
NO_WARNINGS_TEXT = "No quality warnings."


class HeaderPanel(QWidget):
    """Facts about the open file, from :class:`viewer.state.ViewerState`.

    Attributes
    ----------
    values : dict of QLabel
        Label text of :func:`model.record.report.scan_facts` -> value label.
    qform_warning : QLabel
        Visible when ``HeaderInfo.qform_sform_differ``.
    warnings_label : QLabel
        The quality warnings, one per line.
    """

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("HeaderPanel")
        self.values: dict = {}
        self.facts_box = QGroupBox("File and header")
        self.form = QFormLayout(self.facts_box)
        self.form.setContentsMargins(6, 4, 6, 6)
        self.form.setVerticalSpacing(3)
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.qform_warning = _warning(QFORM_SFORM_WARNING)
        warn_box = QGroupBox("Quality warnings")
        wl = QVBoxLayout(warn_box)
        wl.setContentsMargins(6, 4, 6, 6)
        self.warnings_label = QLabel(NO_WARNINGS_TEXT)
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        wl.addWidget(self.warnings_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addWidget(self.qform_warning)
        layout.addWidget(self.facts_box)
        layout.addWidget(warn_box)
        layout.addStretch(1)
        state.scan_changed.connect(self._on_scan_changed)
        self._on_scan_changed(state.scan)

    def _on_scan_changed(self, scan) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.values = {}
        if scan is None:
            self.qform_warning.setVisible(False)
            self.warnings_label.setText("No scan open.")
            return
        for label, value in scan_facts(scan.volume, scan.name):
            name = QLabel(label)
            name.setObjectName("DetailName")
            if label in ("SHA-256", "File"):
                shown = _copyable(value)  # long unbroken text: scrolls, and copies exactly
            else:
                shown = QLabel(value)
                shown.setWordWrap(True)
                shown.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            shown.setToolTip(value)
            self.form.addRow(name, shown)
            self.values[label] = shown
        header = scan.volume.header
        self.qform_warning.setVisible(bool(header is not None and header.qform_sform_differ))
        warnings = list(scan.quality)
        self.warnings_label.setText("\n".join(f"• {w}" for w in warnings) if warnings else NO_WARNINGS_TEXT)
        self.warnings_label.setStyleSheet("color: #ffb74d;" if warnings else "")


def _copyable(text: str) -> QLineEdit:
    field = QLineEdit(text)
    field.setReadOnly(True)
    field.setFrame(False)
    field.setCursorPosition(0)
    field.setObjectName("CopyableValue")
    return field


def _warning(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("WarningBanner")
    label.setWordWrap(True)
    label.setVisible(False)
    return label
