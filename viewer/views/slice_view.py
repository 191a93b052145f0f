"""One plane of the scan: image, Grad-CAM overlay, crosshair and orientation letters.

A :class:`SliceView` draws what :class:`viewer.state.ViewerState` holds and turns mouse gestures
into state changes; it never changes the state's meaning on its own:

* left click / left drag: move the cursor to the voxel under the mouse;
* right drag: window (horizontal = width) and level (vertical = centre), for all views;
* mouse wheel, Up/Down, PageUp/PageDown, the slider under the plane: step the slice of this plane;
* Ctrl + wheel: zoom this plane about the mouse; middle drag: pan it; double click: maximise it.

Zoom and pan belong to the view (each plane has its own); everything else is in the state.

Geometry (which voxel axes go where, the image rectangle in mm, the radiological mirror) comes
from :mod:`viewer.display`; the scan and the heatmap share one image rectangle, so they line up
exactly. Redrawing after a cursor move only re-slices (``plane_slice`` returns a view), masks the
heatmap slice to the head (the mask was computed once per scan, off the GUI thread) and, when
contour lines are on, traces them on that one slice (``skimage.measure.find_contours``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QGraphicsView, QLabel, QSlider, QVBoxLayout, QWidget

from model.heatmap import heatmap_lut
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
from viewer.views.orientation import marked_letters, orientation_doubtful

#: Colour of each plane (3D Slicer convention: red axial, green coronal, yellow sagittal). A
#: crosshair line in one view shows where another plane cuts it, in that plane's colour.
PLANE_COLOURS = {"axial": (230, 80, 70), "coronal": (110, 200, 90), "sagittal": (235, 205, 60)}
#: Wheel angle (1/8 degree) of one slice step: one notch of a standard mouse wheel.
WHEEL_NOTCH = 120
#: Window/level change per screen pixel of right-drag, as a fraction of the default window width.
WINDOW_DRAG_PER_PIXEL = 1.0 / 300.0
#: Zoom factor of one wheel notch with Ctrl held, and of one Zoom in / Zoom out action.
ZOOM_STEP = 1.25
#: Slices up to this many voxels on a side are contoured at full resolution, larger ones on a
#: coarser grid (every 2nd voxel from 256, ...), which keeps a cursor move under 16 ms.
CONTOUR_FULL_RESOLUTION_UP_TO = 128
#: Colour of the heatmap contour lines.
CONTOUR_COLOUR = (0, 229, 255)
#: Grey ramp of the inverted greyscale (black = bright).
INVERTED_GREY_LUT = np.repeat(np.arange(255, -1, -1, dtype=np.uint8)[:, None], 3, axis=1)

#: The mouse gestures of a plane, for Help > Keyboard shortcuts (they are not QActions).
GESTURES = (
    ("Left click / drag", "Move the cursor (all planes follow)"),
    ("Right drag", "Window (left-right = width) and level (up-down = centre)"),
    ("Mouse wheel", "Previous / next slice of the plane under the mouse"),
    ("Ctrl + mouse wheel", "Zoom the plane under the mouse about the mouse"),
    ("Middle drag", "Pan the plane"),
    ("Double click", "Maximise the plane / back to the previous layout"),
    ("Up / Down, Left / Right", "Next / previous slice of the focused plane"),
)


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
    double_clicked()
        Left double click.
    pressed()
        Any mouse button went down on the plane (it becomes the active plane).

    Ctrl + wheel zooms about the mouse and middle drag pans (:meth:`zoom`, ``translateBy``); these
    change only this view's range.
    """

    point_picked = pyqtSignal(float, float)
    window_dragged = pyqtSignal(float, float)
    slice_stepped = pyqtSignal(int)
    double_clicked = pyqtSignal()
    pressed = pyqtSignal()

    def __init__(self):
        super().__init__(lockAspect=True, enableMouse=False, enableMenu=False, invertY=False, defaultPadding=0.0)
        self._wheel_accumulated = 0
        self.magnification = 1.0

    def home(self, rect: QRectF) -> None:
        """Show all of ``rect`` (view mm) with a small margin; magnification 1."""
        self.setRange(rect=rect, padding=0.02)
        self.magnification = 1.0

    def zoom(self, factor: float, center: QPointF | None = None) -> None:
        """Magnify by ``factor`` (> 1 zooms in) about ``center`` (view mm; default: the view's centre)."""
        factor = float(np.clip(self.magnification * factor, 0.25, 64.0)) / self.magnification
        self.magnification *= factor
        self.scaleBy((1.0 / factor, 1.0 / factor), center=center)

    def mouseClickEvent(self, ev):  # noqa: N802 - pyqtgraph hook
        self.pressed.emit()
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            if ev.double():
                self.double_clicked.emit()
                return
            p = self.mapSceneToView(ev.scenePos())
            self.point_picked.emit(p.x(), p.y())
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()  # no context menu on the image
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph hook
        if ev.isStart():
            self.pressed.emit()
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            p = self.mapSceneToView(ev.scenePos())
            self.point_picked.emit(p.x(), p.y())
        elif ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            if delta.x() or delta.y():
                self.window_dragged.emit(float(delta.x()), float(-delta.y()))
        elif ev.button() == Qt.MouseButton.MiddleButton:
            ev.accept()
            before = self.mapSceneToView(ev.lastScenePos())
            after = self.mapSceneToView(ev.scenePos())
            self.translateBy(x=before.x() - after.x(), y=before.y() - after.y())
        else:
            ev.ignore()

    def wheelEvent(self, ev, axis=None):  # noqa: N802 - pyqtgraph hook
        ev.accept()
        self.pressed.emit()
        self._wheel_accumulated += int(ev.delta())
        steps = int(self._wheel_accumulated / WHEEL_NOTCH)
        if steps:
            self._wheel_accumulated -= steps * WHEEL_NOTCH
            if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
                self.zoom(ZOOM_STEP**steps, self.mapSceneToView(ev.scenePos()))
            else:
                self.slice_stepped.emit(steps)


class SliceView(QWidget):
    """One plane (``"axial"``, ``"coronal"`` or ``"sagittal"``) of the state's scan.

    Attributes
    ----------
    image_item, overlay_item : pyqtgraph.ImageItem
        The scan slice (grey, explicit levels) and the heatmap slice masked to the head (RGBA LUT
        of ``model.record.report.heatmap_lut``, levels 0-1), on the same image rectangle.
    contour_item : pyqtgraph.PlotCurveItem
        Heatmap contour lines at the threshold (NaN-separated polylines in view mm).
    letters : dict of QLabel
        Orientation letters at the ``left``, ``right``, ``top`` and ``bottom`` edges.
    slider : QSlider
        Slice index of this plane.

    Signals
    -------
    activated(str)
        The reader pressed, wheeled or focused this plane (it is the target of zoom and slice keys).
    maximise_requested(str)
        Double click on the plane.
    """

    activated = pyqtSignal(str)
    maximise_requested = pyqtSignal(str)

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
        # issue 11: repaint the whole viewport, so moved crosshair lines leave no stale segments above
        # and below an image that does not fill the view (coronal, sagittal)
        self.graphics.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.view_box = SliceViewBox()
        self.graphics.setCentralItem(self.view_box)

        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setZValue(10)
        self.overlay_item.setVisible(False)
        self._lut_key = None
        self._raw_heatmap = self._mask_slice = None  # the heatmap slice before masking, and the mask slice
        self.contour_item = pg.PlotCurveItem(pen=pg.mkPen(color=CONTOUR_COLOUR, width=1), connect="finite")
        self.contour_item.setZValue(15)
        self.contour_item.setVisible(False)
        g = self.geom
        planes_by_axis = {GEOMETRY[p].slice_axis: p for p in GEOMETRY}
        # The vertical line marks the plane normal to the horizontal axis, and vice versa.
        self.v_line = pg.InfiniteLine(angle=90, movable=False, pen=_line_pen(planes_by_axis[g.h_axis]))
        self.h_line = pg.InfiniteLine(angle=0, movable=False, pen=_line_pen(planes_by_axis[g.v_axis]))
        for item in (self.image_item, self.overlay_item, self.contour_item, self.v_line, self.h_line):
            self.view_box.addItem(item, ignoreBounds=item in (self.v_line, self.h_line, self.contour_item))
        self.v_line.setZValue(20)
        self.h_line.setZValue(20)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("SliceSlider")
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.slider.setToolTip(f"{plane.capitalize()} slice (wheel, Up/Down, PgUp/PgDn)")
        self.slider.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.slider)

        self.title = self._overlay_label(colour=PLANE_COLOURS[plane], bold=True)
        self.letters = {
            edge: self._overlay_label(colour=(235, 235, 235), bold=True, size=13)
            for edge in ("left", "right", "top", "bottom")
        }
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setMinimumSize(160, 160)

        self.view_box.point_picked.connect(self._on_point_picked)
        self.view_box.window_dragged.connect(self._on_window_dragged)
        self.view_box.slice_stepped.connect(self.step_slice)
        self.view_box.pressed.connect(lambda: self.activated.emit(self.plane))
        self.view_box.double_clicked.connect(lambda: self.maximise_requested.emit(self.plane))
        self.slider.valueChanged.connect(self._on_slider_moved)
        state.scan_changed.connect(self._on_scan_changed)
        state.cursor_changed.connect(self._on_cursor_changed)
        state.window_changed.connect(self._on_window_changed)
        state.invert_changed.connect(self._on_invert_changed)
        state.radiological_changed.connect(self._on_radiological_changed)
        state.overlay_changed.connect(self._on_overlay_changed)
        state.result_changed.connect(self._on_result_changed)
        state.reader_changed.connect(self._on_result_changed)
        self._on_radiological_changed(state.radiological)
        self._on_invert_changed(state.invert)
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
        return full[max(top, 0) : bottom, max(left, 0) : right].copy()

    def displayed_heatmap(self) -> np.ndarray | None:
        """The heatmap slice the overlay shows (masked to the head), or None."""
        return self.overlay_item.image

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

    def _on_slider_moved(self, value: int) -> None:
        ijk = list(self.state.cursor)
        ijk[self.geom.slice_axis] = int(value)
        self.state.set_cursor(ijk)

    def zoom(self, factor: float) -> None:
        """Magnify this plane by ``factor`` about the cursor (> 1 zooms in)."""
        volume = self.state.volume
        center = None
        if volume is not None:
            center = QPointF(*voxel_to_view(self.state.cursor, self.geom, volume.spacing_mm))
        self.view_box.zoom(factor, center)

    def reset_view(self) -> None:
        """Whole slice in view, no zoom or pan."""
        if self.state.volume is not None:
            self.view_box.home(self._rect)

    @property
    def zoom_factor(self) -> float:
        """Current magnification relative to :meth:`reset_view` (1 = whole slice)."""
        return self.view_box.magnification

    def focusInEvent(self, ev):  # noqa: N802 - Qt hook
        super().focusInEvent(ev)
        self.activated.emit(self.plane)

    def keyPressEvent(self, ev):  # noqa: N802 - Qt hook
        steps = {
            Qt.Key.Key_Up: 1,
            Qt.Key.Key_PageUp: 1,
            Qt.Key.Key_Right: 1,
            Qt.Key.Key_Down: -1,
            Qt.Key.Key_PageDown: -1,
            Qt.Key.Key_Left: -1,
        }.get(ev.key())
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
            item.setVisible(has_scan and (item is self.image_item or self._crosshair))
        self.slider.setEnabled(has_scan)
        if not has_scan:
            self.image_item.clear()
            self.overlay_item.clear()
            self.overlay_item.setVisible(False)
            self.contour_item.setVisible(False)
            self.title.setText(self.plane.capitalize())
            self._place_overlays()
            return
        volume = scan.volume
        self._on_radiological_changed(self.state.radiological)  # letters may be marked assumed
        self._rect = QRectF(*image_rect_mm(volume.shape, volume.spacing_mm, self.geom))
        self.slider.blockSignals(True)
        self.slider.setRange(0, volume.shape[self.geom.slice_axis] - 1)
        self.slider.blockSignals(False)
        self._on_cursor_changed(self.state.cursor)
        self.reset_view()
        self._on_result_changed(self.state.result)

    def _on_cursor_changed(self, ijk) -> None:
        volume = self.state.volume
        if volume is None:
            return
        index = int(ijk[self.geom.slice_axis])
        if index != self._slice_index:
            self._slice_index = index
            self.image_item.setImage(
                plane_slice(volume.data, self.geom, index),
                autoLevels=False,
                levels=window_levels(*self.state.window),
                rect=self._rect,
            )
            self._update_overlay_image()
            n = volume.shape[self.geom.slice_axis]
            self.title.setText(f"{self.plane.capitalize()}   {INDEX_NAMES[self.geom.slice_axis]} {index} / {n - 1}")
            self.title.adjustSize()
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        u, v = voxel_to_view(ijk, self.geom, volume.spacing_mm)
        self.v_line.setValue(u)
        self.h_line.setValue(v)

    def _on_window_changed(self, level: float, width: float) -> None:
        if self.state.volume is not None:
            self.image_item.setLevels(window_levels(level, width))

    def _on_invert_changed(self, invert: bool) -> None:
        self.image_item.setLookupTable(INVERTED_GREY_LUT if invert else None)

    _crosshair = True

    def set_crosshair_visible(self, on: bool) -> None:
        """Show or hide the cursor lines (the cursor itself stays)."""
        self._crosshair = bool(on)
        has_scan = self.state.volume is not None
        self.v_line.setVisible(on and has_scan)
        self.h_line.setVisible(on and has_scan)

    def _on_radiological_changed(self, radiological: bool) -> None:
        self.view_box.invertX(not h_increases_right(self.geom, radiological))
        assumed = orientation_doubtful(self.state.volume)
        for edge, letter in marked_letters(edge_letters(self.geom, radiological), self.state.volume).items():
            self.letters[edge].setText(letter)  # "R?" when the header has no orientation (issue 11)
            self.letters[edge].setToolTip("assumed: not in the file's header" if assumed else "")
            self.letters[edge].adjustSize()
        self._place_overlays()

    def _on_result_changed(self, *_args) -> None:
        self._update_overlay_image()

    def _on_overlay_changed(self) -> None:
        self._update_lut()
        self._update_overlay_visibility()
        self._update_contours()

    def _update_lut(self) -> None:
        key = (self.state.overlay_colormap, self.state.overlay_threshold)
        if key != self._lut_key:
            self._lut_key = key
            self.overlay_item.setLookupTable(heatmap_lut(*key))

    def _update_overlay_image(self) -> None:
        """Re-slice the heatmap (masked to the head) for the current slice, or clear it."""
        result = self.state.result
        heatmap = None if result is None or not self.state.result_visible else result.heatmap
        self._raw_heatmap = self._mask_slice = None
        if heatmap is None or self._slice_index is None:
            self.overlay_item.clear()
        else:
            self._update_lut()
            values = plane_slice(heatmap, self.geom, self._slice_index)
            self._raw_heatmap = values
            mask = self.state.head_mask
            if mask is not None:
                self._mask_slice = plane_slice(mask, self.geom, self._slice_index)
                values = np.where(self._mask_slice, values, np.float32(0))
            self.overlay_item.setImage(values, autoLevels=False, levels=(0.0, 1.0), rect=self._rect)
        self._update_overlay_visibility()
        self._update_contours()

    def _overlay_shown(self) -> bool:
        return (
            self.state.overlay_visible
            and self.state.result_visible
            and not self.state.heatmap_withheld
            and self.overlay_item.image is not None
        )

    def _update_overlay_visibility(self) -> None:
        self.overlay_item.setVisible(self._overlay_shown())
        self.overlay_item.setOpacity(self.state.overlay_opacity)

    def _update_contours(self) -> None:
        """Contour lines of the heatmap slice at the threshold (scikit-image), inside the head only.

        The contours are traced on the unmasked slice (so the head outline itself is not drawn as a
        contour) and the stretches outside the head are left out.
        """
        if not (self.state.overlay_contours and self._overlay_shown()) or self._raw_heatmap is None:
            self.contour_item.setVisible(False)
            return
        from skimage.measure import find_contours

        spacing = self.state.volume.spacing_mm
        sh, sv = float(spacing[self.geom.h_axis]), float(spacing[self.geom.v_axis])
        mask = self._mask_slice
        # Grad-CAM is smooth (upsampled from a 4³ grid): trace large slices on every other voxel
        step = max(1, min(self._raw_heatmap.shape) // CONTOUR_FULL_RESOLUTION_UP_TO)
        pieces = []
        for c in find_contours(self._raw_heatmap[::step, ::step], level=self.state.overlay_threshold):
            c = c * step  # contour points are (row, col) = (v, h) voxel indices
            if mask is not None:
                rows = np.clip(np.rint(c[:, 0]).astype(int), 0, mask.shape[0] - 1)
                cols = np.clip(np.rint(c[:, 1]).astype(int), 0, mask.shape[1] - 1)
                c[~mask[rows, cols]] = np.nan  # breaks the line outside the head
            pieces.append(c)
            pieces.append(np.full((1, 2), np.nan))
        if not pieces:
            self.contour_item.setVisible(False)
            return
        points = np.concatenate(pieces)
        self.contour_item.setData(points[:, 1] * sh, points[:, 0] * sv)
        self.contour_item.setVisible(bool(np.isfinite(points).any()))

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
        w, h, m = self.graphics.width(), self.graphics.height(), 4
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
