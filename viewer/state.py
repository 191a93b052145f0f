"""The display model: one object holding what the viewer shows; views subscribe to its signals.

``ViewerState`` is the single source of truth (FSLeyes ``DisplayContext``, napari layer model):
controls and gestures call its setters, the setters validate, store and emit ``*_changed``; the
plane views, the result panel and the status bar redraw from the signals. Nothing here draws, and
nothing here changes the data: the radiological/neurological convention is a view setting.
"""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from viewer.display import Scan

#: Smallest window width, as a fraction of the default width (keeps levels strictly increasing).
MIN_WIDTH_FRACTION = 1e-3


class ViewerState(QObject):
    """State shared by all views of one main window.

    Signals
    -------
    scan_changed(object)
        A new :class:`viewer.display.Scan` (or None). Cursor and window were reset with it;
        ``result_changed(None)`` is emitted first when a result was shown.
    cursor_changed(object)
        Cursor voxel ``(i, j, k)`` on the RAS+ grid.
    window_changed(float, float)
        Window ``(level, width)`` in the scan's intensity units.
    radiological_changed(bool)
        True = radiological convention (patient left on screen right).
    overlay_changed()
        Heatmap visibility or opacity changed.
    result_changed(object)
        :class:`model.inference.AnalysisResult` of the current scan, or None.
    """

    scan_changed = pyqtSignal(object)
    cursor_changed = pyqtSignal(object)
    window_changed = pyqtSignal(float, float)
    radiological_changed = pyqtSignal(bool)
    overlay_changed = pyqtSignal()
    result_changed = pyqtSignal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._scan: Scan | None = None
        self._cursor = (0, 0, 0)
        self._level, self._width = 0.0, 1.0
        self._radiological = True
        self._overlay_visible = True
        self._overlay_opacity = 0.5
        self._result = None
        self._result_card = None

    # -- scan -------------------------------------------------------------------------------
    @property
    def scan(self) -> Scan | None:
        return self._scan

    @property
    def volume(self):
        """The displayed ``model.volume.Volume`` (None before a scan is opened)."""
        return None if self._scan is None else self._scan.volume

    def set_scan(self, scan: Scan | None) -> None:
        """Show another scan: clears the result, centres the cursor, applies the default window."""
        self.clear_result()
        self._scan = scan
        if scan is not None:
            self._cursor = tuple(int(n) // 2 for n in scan.volume.shape)
            self._level, self._width = (float(x) for x in scan.default_window)
        self.scan_changed.emit(scan)

    # -- cursor -----------------------------------------------------------------------------
    @property
    def cursor(self) -> tuple:
        """Cursor voxel (i, j, k) on the RAS+ grid."""
        return self._cursor

    def set_cursor(self, index_ijk) -> None:
        """Move the cursor (clamped into the volume); emits only when it moved."""
        if self._scan is None:
            return
        shape = self._scan.volume.shape
        new = tuple(int(np.clip(int(round(float(v))), 0, n - 1)) for v, n in zip(index_ijk, shape))
        if new != self._cursor:
            self._cursor = new
            self.cursor_changed.emit(new)

    def step_slice(self, axis: int, steps: int) -> None:
        """Move the cursor ``steps`` voxels along voxel ``axis`` (0, 1, 2)."""
        ijk = list(self._cursor)
        ijk[axis] += int(steps)
        self.set_cursor(ijk)

    # -- window / level ---------------------------------------------------------------------
    @property
    def window(self) -> tuple:
        """(level, width)."""
        return self._level, self._width

    def set_window(self, level: float, width: float) -> None:
        floor = MIN_WIDTH_FRACTION * (self._scan.default_window[1] if self._scan is not None else 1.0)
        level, width = float(level), max(float(width), floor)
        if (level, width) != (self._level, self._width):
            self._level, self._width = level, width
            self.window_changed.emit(level, width)

    def reset_window(self) -> None:
        """Back to the automatic window (1st-99th percentile of non-zero voxels)."""
        if self._scan is not None:
            self.set_window(*self._scan.default_window)

    # -- display convention -----------------------------------------------------------------
    @property
    def radiological(self) -> bool:
        return self._radiological

    def set_radiological(self, on: bool) -> None:
        on = bool(on)
        if on != self._radiological:
            self._radiological = on
            self.radiological_changed.emit(on)

    # -- heatmap overlay --------------------------------------------------------------------
    @property
    def overlay_visible(self) -> bool:
        return self._overlay_visible

    def set_overlay_visible(self, on: bool) -> None:
        on = bool(on)
        if on != self._overlay_visible:
            self._overlay_visible = on
            self.overlay_changed.emit()

    @property
    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    def set_overlay_opacity(self, opacity: float) -> None:
        opacity = float(np.clip(opacity, 0.0, 1.0))
        if opacity != self._overlay_opacity:
            self._overlay_opacity = opacity
            self.overlay_changed.emit()

    # -- analysis result --------------------------------------------------------------------
    @property
    def result(self):
        """``AnalysisResult`` of the displayed scan, or None."""
        return self._result

    @property
    def result_card(self):
        """``ModelCard`` of the weights that produced :attr:`result` (for the intended use)."""
        return self._result_card

    def set_result(self, result, card) -> None:
        """Show an analysis of the current scan.

        Raises
        ------
        ValueError
            No scan is shown, or the heatmap is not on the scan's grid.
        """
        if self._scan is None:
            raise ValueError("no scan is shown; a result belongs to a scan")
        heatmap = getattr(result, "heatmap", None)
        if heatmap is not None and tuple(heatmap.shape) != tuple(self._scan.volume.shape):
            raise ValueError(f"heatmap shape {heatmap.shape} does not match the scan {self._scan.volume.shape}")
        self._result, self._result_card = result, card
        self.result_changed.emit(result)

    def clear_result(self) -> None:
        if self._result is not None:
            self._result, self._result_card = None, None
            self.result_changed.emit(None)
