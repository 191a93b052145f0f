"""Measurement the reading needs: a distance ruler in mm on any plane, and the post-menstrual age.

The ruler is a pyqtgraph ``LineSegmentROI`` on the active plane. Its two ends are in view mm (the
plane's image rectangle is laid out in mm, :func:`viewer.display.image_rect_mm`), converted to voxel
indices on the RAS+ grid, and the length is the world distance between them through the scan's
affine (so it is right for anisotropic voxels). The standard neonatal linear measures are named
(:data:`model.vocabulary.MEASURES`: atrial width of the lateral ventricle, anterior horn width);
for those taken on one side (:data:`model.vocabulary.SIDED_MEASURES`) the patient's side is
recorded, preset from where the ruler lies in the head. "Keep" appends a ``measurement`` entry to
the audit log: the measurement is part of the scan's record (signed, chained) and is printed on the
PDF report. The ruler belongs to its scan: opening another scan removes it (issue 30).

The post-menstrual age (PMA) at scan is typed by the reader, kept per scan for the session, stored
with every decision recorded (``pma_weeks``), printed on the report, and warned about outside
:data:`viewer.services.record_sections.PMA_RANGE_WEEKS`. Its entry (:attr:`MeasurePanel.pma_box`) is placed
by the window with the scan and the result, on the Result tab (issue 30).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from model.record.audit import AuditLogError
from model.vocabulary import MEASURES, SIDED_MEASURES, SIDES
from viewer.panels.decision_history import scan_entries
from viewer.services.blinding import scan_key
from viewer.services.record_sections import measurement_text, pma_warning

RULER_COLOUR = (0, 229, 255)
AMBER = "color: #1a1a1a; background: #ffb300; padding: 3px; border-radius: 3px;"


class Ruler:
    """A distance ruler on one :class:`viewer.views.slice_view.SliceView`.

    Attributes
    ----------
    roi : pyqtgraph.LineSegmentROI
        Its two handles are the ends (view mm).
    label : pyqtgraph.TextItem
        The length, next to the second end.
    """

    def __init__(self, view, start_mm=None, end_mm=None):
        self.view = view
        volume = view.state.volume
        x, y, w, h = view._rect.x(), view._rect.y(), view._rect.width(), view._rect.height()
        start = start_mm if start_mm is not None else (x + 0.35 * w, y + 0.5 * h)
        end = end_mm if end_mm is not None else (x + 0.65 * w, y + 0.5 * h)
        self.roi = pg.LineSegmentROI([start, end], pen=pg.mkPen(RULER_COLOUR, width=2))
        self.roi.setZValue(30)
        self.label = pg.TextItem(color=RULER_COLOUR, anchor=(0, 1))
        self.label.setZValue(31)
        view.view_box.addItem(self.roi, ignoreBounds=True)
        view.view_box.addItem(self.label, ignoreBounds=True)
        self.slice_index = int(view.slice_index)
        self.spacing = np.asarray(volume.spacing_mm, float)
        self.roi.sigRegionChanged.connect(lambda *_: self._update_label())
        self._update_label()

    def ends_mm(self) -> list:
        """The two ends in view mm [(u, v), (u, v)]."""
        return [
            (float(p.x()), float(p.y()))
            for p in (self.roi.mapToParent(handle["item"].pos()) for handle in self.roi.handles)
        ]

    def set_ends_mm(self, start, end) -> None:
        """Move the ends (view mm)."""
        for handle, point in zip(self.roi.handles, (start, end)):
            self.roi.movePoint(handle["item"], pg.Point(*point), coords="parent")
        self._update_label()

    def ends_ijk(self) -> list:
        """The two ends as (fractional) voxel indices on the RAS+ grid."""
        g = self.view.geom
        out = []
        for u, v in self.ends_mm():
            ijk = [0.0, 0.0, 0.0]
            ijk[g.h_axis] = u / self.spacing[g.h_axis]
            ijk[g.v_axis] = v / self.spacing[g.v_axis]
            ijk[g.slice_axis] = float(self.slice_index)
            out.append(ijk)
        return out

    def length_mm(self) -> float:
        """World distance between the ends, mm (through the scan's affine)."""
        a, b = self.view.state.volume.world_mm(self.ends_ijk())
        return float(np.linalg.norm(np.asarray(a) - np.asarray(b)))

    def _update_label(self) -> None:
        (_, _), (u, v) = self.ends_mm()
        self.label.setText(f"{self.length_mm():.1f} mm")
        self.label.setPos(u, v)

    def side(self) -> str | None:
        """The patient's side the ruler's middle lies on ("left" / "right"), against the middle of the
        head (its mask, else the volume) along the RAS+ grid's first axis, which points to the
        patient's right; None on the midline."""
        (i0, _, _), (i1, _, _) = self.ends_ijk()
        state = self.view.state
        mask = state.head_mask
        if mask is not None and mask.any():
            xs = np.flatnonzero(mask.any(axis=(1, 2)))
            centre = (xs[0] + xs[-1]) / 2.0
        else:
            centre = (state.volume.shape[0] - 1) / 2.0
        offset = (i0 + i1) / 2.0 - centre
        if abs(offset) < 0.5:
            return None
        return "right" if offset > 0 else "left"

    def remove(self) -> None:
        for item in (self.roi, self.label):
            self.view.view_box.removeItem(item)


class MeasurePanel(QWidget):
    """Side-panel tab: PMA at scan, and the ruler with its named measures.

    Attributes
    ----------
    pma_box : QGroupBox
        The PMA entry and its warning; the window puts it on the Result tab, with the scan and the result.
    pma_spin : QDoubleSpinBox
        Weeks; its minimum means "not entered".
    pma_warning_label : QLabel
        The out-of-range warning, under the entry.
    measure_combo : QComboBox
        Keys of :data:`model.vocabulary.MEASURES`.
    side_combo : QComboBox
        The patient's side of a sided measure (data ``"left"`` / ``"right"``; None = not said).
    ruler : Ruler or None
    """

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.setObjectName("MeasurePanel")
        self.window = window
        self._pma: dict = {}
        self.ruler: Ruler | None = None

        self.pma_box = pma_box = QGroupBox("Post-menstrual age at scan")
        pma_box.setObjectName("PmaBox")
        self.pma_spin = QDoubleSpinBox()
        self.pma_spin.setRange(0.0, 60.0)
        self.pma_spin.setDecimals(1)
        self.pma_spin.setSingleStep(0.5)
        self.pma_spin.setSuffix(" weeks")
        self.pma_spin.setSpecialValueText("not entered")
        self.pma_spin.setToolTip("PMA at scan, as you know it (gestational age at birth + age since birth)")
        self.pma_warning_label = QLabel()
        self.pma_warning_label.setWordWrap(True)
        self.pma_warning_label.setStyleSheet(AMBER)
        self.pma_warning_label.setVisible(False)
        pl = QFormLayout(pma_box)
        pl.addRow("PMA:", self.pma_spin)
        pl.addRow(self.pma_warning_label)

        ruler_box = QGroupBox("Ruler (mm, on the active plane)")
        self.measure_combo = QComboBox()
        for key, name in MEASURES.items():
            self.measure_combo.addItem(name, key)
        self.side_combo = QComboBox()
        self.side_combo.addItem("not said", None)
        for side in SIDES:
            self.side_combo.addItem(side.capitalize(), side)
        self.side_combo.setToolTip("The patient's side measured (preset from where the ruler lies in the head)")
        self.measure_combo.currentIndexChanged.connect(lambda _i: self._update_side())
        self.ruler_button = QPushButton("Place ruler")
        self.ruler_button.setToolTip("Put a ruler on the active plane; drag its ends")
        self.ruler_button.clicked.connect(lambda: self.place_ruler())
        self.keep_button = QPushButton("Keep measurement")
        self.keep_button.setToolTip("Record this measurement in the scan's audit record (printed on the report)")
        self.keep_button.clicked.connect(lambda: self.keep())
        self.length_label = QLabel("—")
        self.length_label.setObjectName("RulerLength")
        self.kept_label = QLabel()
        self.kept_label.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.ruler_button)
        buttons.addWidget(self.keep_button)
        rl = QFormLayout(ruler_box)
        rl.addRow("Measure:", self.measure_combo)
        rl.addRow("Side:", self.side_combo)
        rl.addRow(buttons)
        rl.addRow("Length:", self.length_label)
        rl.addRow(self.kept_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.addWidget(ruler_box)
        layout.addStretch(1)

        self.pma_spin.valueChanged.connect(self._on_pma_changed)
        st = window.state
        st.scan_changed.connect(self._on_scan_changed)
        window.decision_recorded.connect(lambda _e: self._update_kept())
        self._on_scan_changed(st.scan)

    # -- PMA ---------------------------------------------------------------------------------------
    @property
    def pma_weeks(self) -> float | None:
        """PMA at scan of the open scan (None: not entered)."""
        return self._pma.get(scan_key(self.window.state.volume))

    def set_pma_weeks(self, weeks: float | None) -> None:
        self.pma_spin.setValue(self.pma_spin.minimum() if weeks is None else float(weeks))

    def _on_pma_changed(self, value: float) -> None:
        key = scan_key(self.window.state.volume)
        if key is None:
            return
        if value <= self.pma_spin.minimum():
            self._pma.pop(key, None)
        else:
            self._pma[key] = float(value)
        self._update_pma_labels()

    def _update_pma_labels(self) -> None:
        weeks = self.pma_weeks
        warning = pma_warning(weeks)
        self.pma_warning_label.setText(warning[0].upper() + warning[1:] + "." if warning else "")
        self.pma_warning_label.setVisible(bool(warning))
        self.pma_spin.setEnabled(self.window.state.volume is not None)

    # -- ruler -----------------------------------------------------------------------------------------
    def place_ruler(self, start_mm=None, end_mm=None) -> Ruler | None:
        """Put a ruler on the active plane (replacing one placed before); returns it."""
        if self.window.state.volume is None:
            self.window.show_error("Nothing to measure", "Open a scan first.")
            return None
        self.clear_ruler()
        self.ruler = Ruler(self.window.ortho.active_view, start_mm, end_mm)
        self.ruler.roi.sigRegionChanged.connect(lambda *_: self._update_length())
        self.ruler.roi.sigRegionChangeFinished.connect(lambda *_: self._update_side())
        self._update_length()
        self._update_side()
        return self.ruler

    def _update_side(self) -> None:
        """Offer the side for a sided measure, preset from where the ruler lies."""
        sided = self.measure_combo.currentData() in SIDED_MEASURES
        self.side_combo.setEnabled(sided)
        side = self.ruler.side() if sided and self.ruler is not None else None
        self.side_combo.setCurrentIndex(max(0, self.side_combo.findData(side)) if sided else 0)

    def clear_ruler(self) -> None:
        if self.ruler is not None:
            self.ruler.remove()
            self.ruler = None
        self._update_length()

    def _update_length(self) -> None:
        self.length_label.setText("—" if self.ruler is None else f"{self.ruler.length_mm():.1f} mm")
        self.keep_button.setEnabled(self.ruler is not None)

    def keep(self) -> dict | None:
        """Record the ruler's measurement in the audit log; returns the entry (None if not recorded)."""
        if self.ruler is None:
            return None
        measure = self.measure_combo.currentData()
        measurement = {
            "measure": measure,
            "length_mm": self.ruler.length_mm(),
            "plane": self.ruler.view.plane,
            "from_ijk": self.ruler.ends_ijk()[0],
            "to_ijk": self.ruler.ends_ijk()[1],
        }
        side = self.side_combo.currentData() if measure in SIDED_MEASURES else None
        if side is not None:
            measurement["side"] = side
        entry = self.window.reader.record_measurement(measurement)
        if entry is not None:
            self.window.statusBar().showMessage(f"Kept: {measurement_text(entry['measurement'])}", 8000)
        return entry

    def measurements(self) -> list:
        """``measurement`` fields of this scan's audit entries, oldest first."""
        try:
            entries = scan_entries(self.window.audit_path, getattr(self.window.state.volume, "sha256", None))
        except AuditLogError:
            return []
        return [e["measurement"] for e in entries if e.get("decision") == "measurement" and e.get("measurement")]

    def _update_kept(self) -> None:
        kept = self.measurements()
        self.kept_label.setText(
            "\n".join(f"{measurement_text(m)} ({m['plane']})" for m in kept) or "No measurement kept for this scan."
        )

    def _on_scan_changed(self, _scan) -> None:
        self.clear_ruler()  # the ruler belongs to the scan it was placed on (issue 30)
        self.pma_spin.blockSignals(True)
        self.set_pma_weeks(self.pma_weeks)
        self.pma_spin.blockSignals(False)
        self._update_pma_labels()
        self._update_length()
        self._update_side()
        self._update_kept()


def reading_extras(window) -> dict:
    """PMA and kept measurements of the open scan, for :class:`viewer.services.record_sections.ReadingRecord`."""
    panel = window.measure
    return {"pma_weeks": panel.pma_weeks, "measurements": panel.measurements()}
