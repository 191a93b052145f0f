"""One plane of the scan: image, Grad-CAM overlay, crosshair and orientation letters.

A :class:`SliceView` draws what :class:`viewer.state.ViewerState` holds and turns mouse gestures
into state changes; it never changes the state's meaning on its own:

* left click / left drag: move the cursor to the voxel under the mouse;
* right drag: window (horizontal = width) and level (vertical = centre), for all views;
* mouse wheel, Up/Down, PageUp/PageDown: step the slice of this plane.

Geometry (which voxel axes go where, the image rectangle in mm, the radiological mirror) comes
from :mod:`viewer.display`; the scan and the heatmap share one image rectangle, so they line up
exactly. Redrawing after a cursor move only re-slices (``plane_slice`` returns a view).
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from viewer.display import (
    GEOMETRY,
    INDEX_NAMES,
    edge_letters,
    h_increases_right,
    image_rect_mm,
    plane_slice,
    view_to_voxel,
    voxel_to_view,
    window_levels,
)
from viewer.state import ViewerState

#: Colour of each plane (3D Slicer convention: red axial, green coronal, yellow sagittal). A
#: crosshair line in one view shows where another plane cuts it, in that plane's colour.
PLANE_COLOURS = {"axial": (230, 80, 70), "coronal": (110, 200, 90), "sagittal": (235, 205, 60)}
#: Heatmap values below this are fully transparent, so the anatomy stays readable.
HEATMAP_TRANSPARENT_BELOW = 0.15
#: Heatmap values at or above this are fully opaque (before the opacity slider).
HEATMAP_OPAQUE_FROM = 0.5
HEATMAP_COLORMAP = "inferno"
#: Wheel angle (1/8 degree) of one slice step: one notch of a standard mouse wheel.
WHEEL_NOTCH = 120
#: Window/level change per screen pixel of right-drag, as a fraction of the default window width.
WINDOW_DRAG_PER_PIXEL = 1.0 / 300.0


def heatmap_lut(colormap: str = HEATMAP_COLORMAP, transparent_below: float = HEATMAP_TRANSPARENT_BELOW,
                opaque_from: float = HEATMAP_OPAQUE_FROM, n: int = 256) -> np.ndarray:
    """RGBA lookup table (n, 4) uint8 of a perceptually uniform colormap with an alpha ramp.

    Alpha is 0 below ``transparent_below`` and rises linearly to 255 at ``opaque_from``.
    """
    lut = pg.colormap.get(colormap).getLookupTable(0.0, 1.0, n, alpha=True).astype(np.uint8)
    x = np.linspace(0.0, 1.0, n)
    alpha = np.clip((x - transparent_below) / max(opaque_from - transparent_below, 1e-6), 0.0, 1.0)
    alpha[x < transparent_below] = 0.0
    lut[:, 3] = np.round(alpha * 255).astype(np.uint8)
    return lut


class SliceViewBox(pg.ViewBox):
    """A ViewBox whose mouse gestures are the viewer's, reported in view mm (no built-in pan/zoom).

    Signals
    -------
    point_picked(float, float)
        Left click or left drag at view position (u, v) mm.
    window_dragged(float, float)
        Right drag by (dx, dy) screen pixels, dx positive to the right, dy positive upwards.
    slice_stepped(int)
        Wheel notches (positive = away from the user).
    """

    point_picked = pyqtSignal(float, float)
    window_dragged = pyqtSignal(float, float)
    slice_stepped = pyqtSignal(int)

    def __init__(self):
        super().__init__(lockAspect=True, enableMouse=False, enableMenu=False, invertY=False, defaultPadding=0.0)
        self._wheel_accumulated = 0

    def mouseClickEvent(self, ev):  # noqa: N802 - pyqtgraph hook
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.point_picked.emit(p.x(), p.y())
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()  # no context menu on the image
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph hook
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.point_picked.emit(p.x(), p.y())
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            if delta.x() or delta.y():
                self.window_dragged.emit(float(delta.x()), float(-delta.y()))
        else:
            ev.ignore()

    def wheelEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph hook
        ev.accept()
        self._wheel_accumulated += int(ev.delta())
        steps = int(self._wheel_accumulated / WHEEL_NOTCH)
        if steps:
            self._wheel_accumulated -= steps * WHEEL_NOTCH
            self.slice_stepped.emit(steps)


class SliceView(QWidget):
    """One plane (``"axial"``, ``"coronal"`` or ``"sagittal"``) of the state's scan.

    Attributes
    ----------
    image_item, overlay_item : pyqtgraph.ImageItem
        The scan slice (grey, explicit levels) and the heatmap slice (RGBA LUT, levels 0-1), on the
        same image rectangle.
    letters : dict of QLabel
        Orientation letters at the ``left``, ``right``, ``top`` and ``bottom`` edges.
    """

    def __init__(self, state: ViewerState, plane: str, parent=None):
        super().__init__(parent)
        self.state = state
        self.plane = plane
        self.geom = GEOMETRY[plane]
        self._slice_index: int | None = None
        self._rect = QRectF()  # image rectangle in view mm, set per scan

        self.graphics = pg.GraphicsView(background="k")
        self.graphics.setAcceptDrops(False)  # let files dropped on a view reach the main window
        self.graphics.setCursor(Qt.CursorShape.CrossCursor)
        self.graphics.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.view_box = SliceViewBox()
        self.graphics.setCentralItem(self.view_box)

        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setLookupTable(heatmap_lut())
        self.overlay_item.setZValue(10)
        self.overlay_item.setVisible(False)
        g = self.geom
        planes_by_axis = {GEOMETRY[p].slice_axis: p for p in GEOMETRY}
        # The vertical line marks the plane normal to the horizontal axis, and vice versa.
        self.v_line = pg.InfiniteLine(angle=90, movable=False, pen=_line_pen(planes_by_axis[g.h_axis]))
        self.h_line = pg.InfiniteLine(angle=0, movable=False, pen=_line_pen(planes_by_axis[g.v_axis]))
        for item in (self.image_item, self.overlay_item, self.v_line, self.h_line):
            self.view_box.addItem(item, ignoreBounds=item in (self.v_line, self.h_line))
        self.v_line.setZValue(20)
        self.h_line.setZValue(20)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

        self.title = self._overlay_label(colour=PLANE_COLOURS[plane], bold=True)
        self.letters = {edge: self._overlay_label(colour=(235, 235, 235), bold=True, size=13)
                        for edge in ("left", "right", "top", "bottom")}
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMinimumSize(160, 160)

        self.view_box.point_picked.connect(self._on_point_picked)
        self.view_box.window_dragged.connect(self._on_window_dragged)
        self.view_box.slice_stepped.connect(self.step_slice)
        state.scan_changed.connect(self._on_scan_changed)
        state.cursor_changed.connect(self._on_cursor_changed)
        state.window_changed.connect(self._on_window_changed)
        state.radiological_changed.connect(self._on_radiological_changed)
        state.overlay_changed.connect(self._update_overlay_visibility)
        state.result_changed.connect(self._on_result_changed)
        self._on_radiological_changed(state.radiological)
        self._on_scan_changed(state.scan)

    # -- what is displayed (read by tests and readouts) ----------------------------------------
    @property
    def slice_index(self) -> int | None:
        """Index of the displayed slice along this plane's slice axis (None without a scan)."""
        return self._slice_index

    def displayed_image(self) -> np.ndarray | None:
        """The slice array the image item shows (rows along the vertical voxel axis, bottom first)."""
        return self.image_item.image

    def render_image_pixels(self) -> np.ndarray:
        """Grey pixels of the image area as rendered on screen, shape (rows top->bottom, cols left->right)."""
        pixmap = self.graphics.grab()
        image = pixmap.toImage().convertToFormat(pixmap.toImage().Format.Format_Grayscale8)
        ptr = image.constBits()
        ptr.setsize(image.sizeInBytes())
        full = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())[:, : image.width()]
        ratio = pixmap.devicePixelRatio()
        rect = self.graphics.mapFromScene(self.image_item.sceneBoundingRect()).boundingRect()
        top, left = int(round(rect.top() * ratio)), int(round(rect.left() * ratio))
        bottom, right = int(round((rect.bottom() + 1) * ratio)), int(round((rect.right() + 1) * ratio))
        return full[max(top, 0):bottom, max(left, 0):right].copy()

    def view_position_of(self, index_ijk) -> QPointF:
        """Widget position (in ``self.graphics`` viewport pixels) of the centre of a voxel."""
        volume = self.state.volume
        u, v = voxel_to_view(index_ijk, self.geom, volume.spacing_mm)
        scene = self.view_box.mapViewToScene(QPointF(u, v))
        return self.graphics.viewportTransform().map(scene)

    # -- gestures -> state --------------------------------------------------------------------
    def _on_point_picked(self, u: float, v: float) -> None:
        volume = self.state.volume
        if volume is None:
            return
        h, vv = view_to_voxel(u, v, self.geom, volume.shape, volume.spacing_mm)
        ijk = list(self.state.cursor)
        ijk[self.geom.h_axis], ijk[self.geom.v_axis] = h, vv
        self.state.set_cursor(ijk)

    def _on_window_dragged(self, dx_px: float, dy_px: float) -> None:
        scan = self.state.scan
        if scan is None:
            return
        step = scan.default_window[1] * WINDOW_DRAG_PER_PIXEL
        level, width = self.state.window
        self.state.set_window(level + dy_px * step, width + dx_px * step)

    def step_slice(self, steps: int) -> None:
        """Move this plane's slice by ``steps`` (positive = towards R, A or S)."""
        self.state.step_slice(self.geom.slice_axis, steps)

    def keyPressEvent(self, ev):  # noqa: N802 - Qt hook
        steps = {Qt.Key.Key_Up: 1, Qt.Key.Key_PageUp: 1, Qt.Key.Key_Down: -1, Qt.Key.Key_PageDown: -1}.get(ev.key())
        if steps and self.state.volume is not None:
            self.step_slice(steps)
            ev.accept()
        else:
            super().keyPressEvent(ev)

    # -- state -> view --------------------------------------------------------------------------
    def _on_scan_changed(self, scan) -> None:
        self._slice_index = None
        has_scan = scan is not None
        for item in (self.image_item, self.v_line, self.h_line):
            item.setVisible(has_scan)
        if not has_scan:
            self.image_item.clear()
            self.overlay_item.clear()
            self.overlay_item.setVisible(False)
            self.title.setText(self.plane.capitalize())
            self._place_overlays()
            return
        volume = scan.volume
        self._rect = QRectF(*image_rect_mm(volume.shape, volume.spacing_mm, self.geom))
        self._on_cursor_changed(self.state.cursor)
        self.view_box.setRange(rect=self._rect, padding=0.02)
        self._on_result_changed(self.state.result)

    def _on_cursor_changed(self, ijk) -> None:
        volume = self.state.volume
        if volume is None:
            return
        index = int(ijk[self.geom.slice_axis])
        if index != self._slice_index:
            self._slice_index = index
            self.image_item.setImage(plane_slice(volume.data, self.geom, index), autoLevels=False,
                                     levels=window_levels(*self.state.window), rect=self._rect)
            self._update_overlay_image()
            n = volume.shape[self.geom.slice_axis]
            self.title.setText(f"{self.plane.capitalize()}   {INDEX_NAMES[self.geom.slice_axis]} {index} / {n - 1}")
            self.title.adjustSize()
        u, v = voxel_to_view(ijk, self.geom, volume.spacing_mm)
        self.v_line.setValue(u)
        self.h_line.setValue(v)

    def _on_window_changed(self, level: float, width: float) -> None:
        if self.state.volume is not None:
            self.image_item.setLevels(window_levels(level, width))

    def _on_radiological_changed(self, radiological: bool) -> None:
        self.view_box.invertX(not h_increases_right(self.geom, radiological))
        for edge, letter in edge_letters(self.geom, radiological).items():
            self.letters[edge].setText(letter)
            self.letters[edge].adjustSize()
        self._place_overlays()

    def _on_result_changed(self, result) -> None:
        self._update_overlay_image()

    def _update_overlay_image(self) -> None:
        result = self.state.result
        heatmap = None if result is None else result.heatmap
        if heatmap is None or self._slice_index is None:
            self.overlay_item.clear()
        else:
            self.overlay_item.setImage(plane_slice(heatmap, self.geom, self._slice_index), autoLevels=False,
                                       levels=(0.0, 1.0), rect=self._rect)
        self._update_overlay_visibility()

    def _update_overlay_visibility(self) -> None:
        shown = self.state.overlay_visible and self.state.result is not None and self.overlay_item.image is not None
        self.overlay_item.setVisible(shown)
        self.overlay_item.setOpacity(self.state.overlay_opacity)

    # -- overlay labels -------------------------------------------------------------------------
    def _overlay_label(self, colour, bold=False, size=None) -> QLabel:
        label = QLabel(self)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.setStyleSheet(f"color: rgb{tuple(colour)}; background: transparent;")
        font = QFont(label.font())
        font.setBold(bold)
        if size:
            font.setPointSize(size)
        label.setFont(font)
        label.raise_()
        return label

    def resizeEvent(self, ev):  # noqa: N802 - Qt hook
        super().resizeEvent(ev)
        self._place_overlays()

    def _place_overlays(self) -> None:
        w, h, m = self.width(), self.height(), 4
        L = self.letters
        for label in (*L.values(), self.title):
            label.adjustSize()
        L["left"].move(m, (h - L["left"].height()) // 2)
        L["right"].move(w - L["right"].width() - m, (h - L["right"].height()) // 2)
        L["top"].move((w - L["top"].width()) // 2, m)
        L["bottom"].move((w - L["bottom"].width()) // 2, h - L["bottom"].height() - m)
        self.title.move(m + 2, m)


def _line_pen(plane: str):
    r, g, b = PLANE_COLOURS[plane]
    return pg.mkPen(color=(r, g, b, 170), width=1)
