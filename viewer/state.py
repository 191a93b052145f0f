"""The display model: one object holding what the viewer shows; views subscribe to its signals.

``ViewerState`` is the single source of truth (FSLeyes ``DisplayContext``, napari layer model):
controls and gestures call its setters, the setters validate, store and emit ``*_changed``; the
plane views, the result panel and the status bar redraw from the signals. Nothing here draws, and
nothing here changes the data: the radiological/neurological convention is a view setting.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QObject, pyqtSignal

from model.disclosure import may_show_result
from model.heatmap import DEFAULT_HEATMAP_THRESHOLD, HEATMAP_COLORMAPS, heatmap_peak
from model.vocabulary import IMPRESSIONS
from viewer.display import LAYOUTS, PLANES, Scan
from viewer.services.blinding import Blinding, scan_key

#: Smallest window width, as a fraction of the default width (keeps levels strictly increasing).
MIN_WIDTH_FRACTION = 1e-3
#: Highest heatmap threshold the reader can choose (something must stay visible).
MAX_HEATMAP_THRESHOLD = 0.95


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
    invert_changed(bool)
        Greyscale inverted (True) or not.
    radiological_changed(bool)
        True = radiological convention (patient left on screen right).
    overlay_changed()
        Heatmap visibility, opacity, colormap, threshold or contour lines changed.
    result_changed(object)
        :class:`model.inference.AnalysisResult` of the current scan, or None.
    layout_changed(str, str)
        Layout key of :data:`viewer.display.LAYOUTS` and the plane shown by the one-plane layout.
    reader_changed()
        Reader-first mode, the reader's impression or the last recorded decision changed; whether
        the AI result may be shown (:attr:`result_visible`) may have changed with it.
    """

    scan_changed = pyqtSignal(object)
    cursor_changed = pyqtSignal(object)
    window_changed = pyqtSignal(float, float)
    invert_changed = pyqtSignal(bool)
    radiological_changed = pyqtSignal(bool)
    overlay_changed = pyqtSignal()
    result_changed = pyqtSignal(object)
    layout_changed = pyqtSignal(str, str)
    reader_changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._scan: Scan | None = None
        self._cursor = (0, 0, 0)
        self._level, self._width = 0.0, 1.0
        self._radiological = True
        self._invert = False
        self._overlay_visible = True
        self._ood_revealed = False  # "Show probability and heatmap anyway" for an out-of-distribution result
        self._overlay_opacity = 0.5
        self._overlay_colormap = HEATMAP_COLORMAPS[0]
        self._overlay_threshold = DEFAULT_HEATMAP_THRESHOLD
        self._overlay_contours = False
        self._result = None
        self._result_card = None
        self._peak = None
        self._layout, self._single_plane = "1x3", PLANES[0]
        self.blinding = Blinding(self)  # reader-first mode and per-scan "result ever shown" (issue 11)
        self._impression: str | None = None
        self._last_decision: dict | None = None

    # -- scan -------------------------------------------------------------------------------
    @property
    def scan(self) -> Scan | None:
        return self._scan

    @property
    def volume(self):
        """The displayed ``model.volume.Volume`` (None before a scan is opened)."""
        return None if self._scan is None else self._scan.volume

    @property
    def head_mask(self):
        """Voxels inside the head (bool (X, Y, Z)) where the heatmap is shown; None = everywhere."""
        return None if self._scan is None else self._scan.head_mask

    def set_scan(self, scan: Scan | None) -> None:
        """Show another scan: clears the result and the reader's impression and decision, centres
        the cursor, applies the default window (inversion stays)."""
        self.clear_result()
        self._scan = scan
        if scan is not None:
            self._cursor = tuple(int(n) // 2 for n in scan.volume.shape)
            self._level, self._width = (float(x) for x in scan.default_window)
        # an impression recorded for this scan earlier in the session still holds (blinding is per scan)
        impression = self.blinding.impression(self.scan_key)
        reader_was_set = self._impression is not None or self._last_decision is not None or impression is not None
        self._impression, self._last_decision = impression, None
        self.scan_changed.emit(scan)
        if reader_was_set:
            self.reader_changed.emit()

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
        """Window centre ``level`` and ``width`` in intensity units (width floored, see MIN_WIDTH_FRACTION)."""
        floor = MIN_WIDTH_FRACTION * (self._scan.default_window[1] if self._scan is not None else 1.0)
        level, width = float(level), max(float(width), floor)
        if (level, width) != (self._level, self._width):
            self._level, self._width = level, width
            self.window_changed.emit(level, width)

    def reset_window(self) -> None:
        """Back to the automatic window (1st-99th percentile of non-zero voxels)."""
        if self._scan is not None:
            self.set_window(*self._scan.default_window)

    def apply_window_preset(self, key: str) -> None:
        """Apply a window preset of the scan (:data:`viewer.display.WINDOW_PRESETS`).

        Raises
        ------
        KeyError
            The scan has no preset ``key``.
        """
        if self._scan is None:
            return
        presets = self._scan.presets or {"auto": self._scan.default_window}
        self.set_window(*presets[key])

    def matching_preset(self) -> str | None:
        """Key of the preset equal to the current window, or None (a custom window)."""
        if self._scan is None:
            return None
        presets = self._scan.presets or {"auto": self._scan.default_window}
        for key, (level, width) in presets.items():
            if np.isclose(level, self._level, rtol=1e-6, atol=1e-9) and np.isclose(width, self._width, rtol=1e-6):
                return key
        return None

    @property
    def invert(self) -> bool:
        """True: greyscale inverted (dark = bright)."""
        return self._invert

    def set_invert(self, on: bool) -> None:
        on = bool(on)
        if on != self._invert:
            self._invert = on
            self.invert_changed.emit(on)

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
    def heatmap_withheld(self) -> bool:
        """True while the result is outside the training domain (``result.ood``, :mod:`model.ood_gate`) and
        the reader has not asked to see it anyway: its heatmap explains no call, so it is not drawn
        (:func:`model.disclosure.may_show_result`)."""
        return self._result is not None and not may_show_result(self._result, self._ood_revealed)

    @property
    def ood_revealed(self) -> bool:
        """The reader asked to see this out-of-distribution result anyway (the ``show_anyway`` of
        :func:`model.disclosure.may_show_result`)."""
        return self._ood_revealed

    def set_ood_revealed(self, on: bool) -> None:
        """The reader asks to see an out-of-distribution result anyway (reset by every new result)."""
        on = bool(on)
        if on != self._ood_revealed:
            self._ood_revealed = on
            self.overlay_changed.emit()

    @property
    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    def set_overlay_opacity(self, opacity: float) -> None:
        opacity = float(np.clip(opacity, 0.0, 1.0))
        if opacity != self._overlay_opacity:
            self._overlay_opacity = opacity
            self.overlay_changed.emit()

    @property
    def overlay_colormap(self) -> str:
        """Matplotlib name of the heatmap colormap (one of ``model.record.report.HEATMAP_COLORMAPS``)."""
        return self._overlay_colormap

    def set_overlay_colormap(self, name: str) -> None:
        """Raises ValueError for a colormap that is not offered."""
        if name not in HEATMAP_COLORMAPS:
            raise ValueError(f"unknown heatmap colormap {name!r}; use one of {HEATMAP_COLORMAPS}")
        if name != self._overlay_colormap:
            self._overlay_colormap = name
            self.overlay_changed.emit()

    @property
    def overlay_threshold(self) -> float:
        """Heatmap values below this are transparent (0..``MAX_HEATMAP_THRESHOLD``)."""
        return self._overlay_threshold

    def set_overlay_threshold(self, value: float) -> None:
        value = float(np.clip(value, 0.0, MAX_HEATMAP_THRESHOLD))
        if value != self._overlay_threshold:
            self._overlay_threshold = value
            self.overlay_changed.emit()

    @property
    def overlay_contours(self) -> bool:
        """Draw contour lines of the heatmap at the threshold."""
        return self._overlay_contours

    def set_overlay_contours(self, on: bool) -> None:
        on = bool(on)
        if on != self._overlay_contours:
            self._overlay_contours = on
            self.overlay_changed.emit()

    # -- layout -----------------------------------------------------------------------------------
    @property
    def layout(self) -> str:
        """Key of :data:`viewer.display.LAYOUTS`."""
        return self._layout

    @property
    def single_plane(self) -> str:
        """The plane the ``"1x1"`` layout shows."""
        return self._single_plane

    def set_layout(self, layout: str, plane: str | None = None) -> None:
        """Raises ValueError for an unknown layout or plane."""
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; use one of {tuple(LAYOUTS)}")
        plane = self._single_plane if plane is None else plane
        if plane not in PLANES:
            raise ValueError(f"unknown plane {plane!r}")
        if (layout, plane) != (self._layout, self._single_plane):
            self._layout, self._single_plane = layout, plane
            self.layout_changed.emit(layout, plane)

    # -- reader workflow --------------------------------------------------------------------------
    @property
    def scan_key(self) -> str | None:
        """The shown scan's key in :attr:`blinding` (:func:`viewer.services.blinding.scan_key`)."""
        return scan_key(self.volume)

    @property
    def reader_first(self) -> bool:
        """Reader-first mode: the AI result stays hidden until the reader records an impression."""
        return self.blinding.reader_first

    def set_reader_first(self, on: bool) -> None:
        on = bool(on)
        if on != self.blinding.reader_first:
            self.blinding.set_reader_first(on)
            self._note_shown()
            self.reader_changed.emit()

    @property
    def impression(self) -> str | None:
        """The reader's impression of this scan (``model.record.audit.IMPRESSIONS``), or None."""
        return self._impression

    def set_impression(self, impression: str | None) -> None:
        """Raises ValueError for an impression that is not one of ``model.record.audit.IMPRESSIONS``."""
        if impression is not None and impression not in IMPRESSIONS:
            raise ValueError(f"impression must be one of {IMPRESSIONS}, got {impression!r}")
        self.blinding.record_impression(self.scan_key, impression)
        if impression != self._impression:
            self._impression = impression
            self._note_shown()
            self.reader_changed.emit()

    @property
    def last_decision(self) -> dict | None:
        """The audit entry of the last decision recorded for this scan, or None."""
        return self._last_decision

    def set_last_decision(self, entry: dict | None) -> None:
        self._last_decision = entry
        self.reader_changed.emit()

    @property
    def result_visible(self) -> bool:
        """True when there is a result and the reader may see it (not held back by reader-first)."""
        return self._result is not None and (not self.reader_first or self._impression is not None)

    @property
    def result_disclosed(self) -> bool:
        """True when the result's probability, call and heatmap may be shown now: visible to the reader
        (:attr:`result_visible`) and allowed by :func:`model.disclosure.may_show_result` (issue 30).
        The result tile, cursor readout, status bar, screenshot and exports ask this."""
        return self.result_visible and may_show_result(self._result, self._ood_revealed)

    @property
    def ai_ever_shown(self) -> bool:
        """True when this scan's AI result was ever visible in this session (the audit's ``ai_shown``)."""
        return self.blinding.ever_shown(self.scan_key)

    def _note_shown(self) -> None:
        if self.result_visible:
            self.blinding.note_shown(self.scan_key)

    # -- analysis result --------------------------------------------------------------------
    @property
    def result(self):
        """``AnalysisResult`` of the displayed scan, or None (shown or not: see :attr:`result_visible`)."""
        return self._result

    @property
    def heatmap_peak(self) -> tuple | None:
        """Voxel (i, j, k) of the heatmap maximum inside the head (cached per result), or None."""
        heatmap = None if self._result is None else getattr(self._result, "heatmap", None)
        if heatmap is None:
            return None
        if self._peak is None:
            self._peak = heatmap_peak(heatmap, self.head_mask)
        return self._peak

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
        self._result, self._result_card, self._peak = result, card, None
        self._ood_revealed = False
        self._note_shown()
        self.result_changed.emit(result)

    def clear_result(self) -> None:
        if self._result is not None:
            self._result, self._result_card, self._peak = None, None, None
            self._ood_revealed = False
            self.result_changed.emit(None)
