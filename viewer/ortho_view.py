"""The three linked planes side by side, with a header naming the scan and the display convention."""
from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from viewer.display import PLANES
from viewer.slice_view import SliceView
from viewer.state import ViewerState

CONVENTION_TEXT = {
    True: "Radiological (patient left on screen right)",
    False: "Neurological (patient left on screen left)",
}


class OrthoView(QWidget):
    """Axial, coronal and sagittal :class:`SliceView` of one :class:`ViewerState`.

    Attributes
    ----------
    views : dict
        ``{"axial": SliceView, "coronal": SliceView, "sagittal": SliceView}``.
    convention_label : QLabel
        Says "Radiological" or "Neurological".
    """

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.setObjectName("OrthoView")
        self.scan_label = QLabel("No scan open — File > Open (Ctrl+O) or drop a NIfTI file here")
        self.scan_label.setObjectName("ScanLabel")
        self.scan_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.convention_label = QLabel()
        self.convention_label.setObjectName("ConventionLabel")
        self.convention_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        header = QHBoxLayout()
        header.setContentsMargins(8, 4, 8, 4)
        header.addWidget(self.scan_label, 1)
        header.addWidget(self.convention_label)

        self.views = {plane: SliceView(state, plane) for plane in PLANES}
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        for plane in PLANES:
            row.addWidget(self.views[plane], 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addLayout(row, 1)

        state.scan_changed.connect(self._on_scan_changed)
        state.radiological_changed.connect(self._on_radiological_changed)
        self._on_radiological_changed(state.radiological)

    def _on_scan_changed(self, scan) -> None:
        if scan is None:
            self.scan_label.setText("No scan open — File > Open (Ctrl+O) or drop a NIfTI file here")
            return
        vol = scan.volume
        shape = "×".join(str(n) for n in vol.shape)
        spacing = "×".join(f"{s:.3g}" for s in vol.spacing_mm)
        extra = ""
        header = vol.header
        if header is not None:
            extra = f"   stored {''.join(header.axcodes)}"
            if header.oblique:
                extra += "   OBLIQUE: shown in the closest canonical orientation (approximate)"
        self.scan_label.setText(f"<b>{_escape(scan.name)}</b>   {shape} voxels   {spacing} mm{extra}")

    def _on_radiological_changed(self, radiological: bool) -> None:
        self.convention_label.setText(CONVENTION_TEXT[radiological])


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
