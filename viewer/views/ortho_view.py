"""The three linked planes in a layout (side by side, 2 × 2, one maximised), with a header naming the
scan, the display convention and, for oblique files, that the display is the closest canonical
orientation.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QGridLayout, QHBoxLayout, QVBoxLayout, QWidget

from viewer.display import PLANES
from viewer.state import ViewerState
from viewer.views.elided_label import ElidedLabel
from viewer.views.info_panel import InfoPanel
from viewer.views.slice_view import SliceView

#: Grid cell (row, column) of each plane and of the info panel in the 2 × 2 layout.
GRID_2X2 = {"axial": (0, 0), "coronal": (0, 1), "sagittal": (1, 0), "info": (1, 1)}
OBLIQUE_TEXT = "Oblique acquisition ({:.1f}°): shown in the closest canonical orientation (approximate)"

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
    info : InfoPanel
        Cursor readout and result summary (the fourth cell of the 2 × 2 layout).
    convention_label : QLabel
        Says "Radiological" or "Neurological".
    oblique_label : QLabel
        Visible when the file's affine is oblique.
    active_plane : str
        The plane the reader last pressed, wheeled or focused: the target of zoom and slice keys.

    Signals
    -------
    active_plane_changed(str)
    """

    active_plane_changed = pyqtSignal(str)

    def __init__(self, state: ViewerState, parent=None):
        super().__init__(parent)
        self.state = state
        self.active_plane = PLANES[0]
        self._previous_layout = "1x3"
        self.setObjectName("OrthoView")
        # header texts elide (whole text in the tooltip) rather than widen the window (issue 30)
        self.scan_label = ElidedLabel("No scan open — File > Open (Ctrl+O) or drop a NIfTI file here")
        self.scan_label.setObjectName("ScanLabel")
        self.scan_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.convention_label = ElidedLabel()
        self.convention_label.setObjectName("ConventionLabel")
        self.convention_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.oblique_label = ElidedLabel(tooltip=False)  # its tooltip explains the approximation
        self.oblique_label.setObjectName("ObliqueLabel")
        self.oblique_label.setVisible(False)

        header = QHBoxLayout()
        header.setContentsMargins(8, 4, 8, 4)
        header.addWidget(self.scan_label, 1)
        header.addWidget(self.oblique_label, 1)
        header.addSpacing(12)
        header.addWidget(self.convention_label)

        self.views = {plane: SliceView(state, plane) for plane in PLANES}
        for view in self.views.values():
            view.activated.connect(self.set_active_plane)
            view.maximise_requested.connect(self.toggle_maximised)
        self.info = InfoPanel(state)
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addLayout(self.grid, 1)

        state.scan_changed.connect(self._on_scan_changed)
        state.radiological_changed.connect(self._on_radiological_changed)
        state.layout_changed.connect(self._on_layout_changed)
        self._on_radiological_changed(state.radiological)
        self._on_layout_changed(state.layout, state.single_plane)

    # -- layout ---------------------------------------------------------------------------------
    def _on_layout_changed(self, layout: str, plane: str) -> None:
        for widget in (*self.views.values(), self.info):
            self.grid.removeWidget(widget)
            widget.setVisible(False)
        for i in range(3):
            self.grid.setColumnStretch(i, 0)
            self.grid.setRowStretch(i, 0)
        if layout == "1x3":
            for col, name in enumerate(PLANES):
                self.grid.addWidget(self.views[name], 0, col)
                self.grid.setColumnStretch(col, 1)
            self.grid.setRowStretch(0, 1)
            shown = list(self.views.values())
        elif layout == "2x2":
            cells = {**{p: self.views[p] for p in PLANES}, "info": self.info}
            for key, (row, col) in GRID_2X2.items():
                self.grid.addWidget(cells[key], row, col)
            for i in range(2):
                self.grid.setColumnStretch(i, 1)
                self.grid.setRowStretch(i, 1)
            shown = list(cells.values())
        else:  # "1x1"
            self.grid.addWidget(self.views[plane], 0, 0)
            self.grid.setColumnStretch(0, 1)
            self.grid.setRowStretch(0, 1)
            shown = [self.views[plane]]
            self.set_active_plane(plane)
        for widget in shown:
            widget.setVisible(True)

    def shown_views(self) -> list:
        """The plane views visible in the current layout."""
        return [v for v in self.views.values() if v.isVisibleTo(self)]

    def toggle_maximised(self, plane: str) -> None:
        """Maximise ``plane`` (one-plane layout), or go back to the previous layout when it is."""
        if self.state.layout == "1x1" and self.state.single_plane == plane:
            self.state.set_layout(self._previous_layout)
        else:
            if self.state.layout != "1x1":
                self._previous_layout = self.state.layout
            self.state.set_layout("1x1", plane)

    def set_active_plane(self, plane: str) -> None:
        if plane != self.active_plane:
            self.active_plane = plane
            self.active_plane_changed.emit(plane)

    @property
    def active_view(self) -> SliceView:
        return self.views[self.active_plane]

    def _on_scan_changed(self, scan) -> None:
        if scan is None:
            self.scan_label.setText("No scan open — File > Open (Ctrl+O) or drop a NIfTI file here")
            self.oblique_label.setVisible(False)
            return
        vol = scan.volume
        shape = "×".join(str(n) for n in vol.shape)
        spacing = "×".join(f"{s:.3g}" for s in vol.spacing_mm)
        extra = ""
        header = vol.header
        oblique = header is not None and header.oblique
        if header is not None:
            extra = f"   stored {''.join(header.axcodes)}"
        self.scan_label.setText(f"{scan.name}   {shape} voxels   {spacing} mm{extra}")
        self.oblique_label.setVisible(oblique)
        if oblique:
            import math

            self.oblique_label.setText(OBLIQUE_TEXT.format(math.degrees(header.obliquity_rad)))
            self.oblique_label.setToolTip(
                "The file's voxel axes are tilted against the patient axes. The viewer shows the voxels "
                "without resampling, in the closest canonical (RAS) orientation, so the edge letters and "
                "the planes are approximate by the angle shown."
            )

    def _on_radiological_changed(self, radiological: bool) -> None:
        self.convention_label.setText(CONVENTION_TEXT[radiological])
