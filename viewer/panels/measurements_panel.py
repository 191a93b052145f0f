"""The Measurements tab: the label map's measures against age, a growth chart, Copy as CSV.

A table of the :class:`model.findings_types.SegmentationReport`'s measurements: value and unit, the
age reference at the infant's post-menstrual age (mean ± SD, or "no published spread"), the z-score
with its centile, and the flag; every reference's source is named under the table, with the
report's notes (a measure that could not be found, a PMA outside a reference's range). Below, the
growth chart of the selected measure (pyqtgraph): the reference by PMA from the bundled table
(:class:`model.norms_table.NormTable`; mean line, ± 2 SD band where a spread is published) and this infant
as a point.

Without a PMA the table has values only, and a prompt takes the reader to the PMA entry. Reader-first
mode (before the impression) and an out-of-distribution scan (unless shown anyway) show no
measurements at all (:class:`viewer.segmentation_state.SegmentationState` decides).
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer.panels.findings_panel import (
    NOTICE_STYLE,
    OOD_STYLE,
    RoomHost,
    escape_html,
    number,
    reference_text,
    unit_text,
)

COLUMNS = ("Measure", "Value", "Reference", "z (centile)", "Flag")
CSV_COLUMNS = (
    "key",
    "measure",
    "value",
    "unit",
    "pma_weeks",
    "reference_mean",
    "reference_sd",
    "z",
    "centile",
    "flag",
    "reference_source",
    "definition",
    "label_map",
)
#: Table names short enough for the side panel (the full name and definition are the row's tooltip).
SHORT_NAMES = {
    "icv_ml": "Intracranial",
    "brain_ml": "Brain tissue",
    "cortex_ml": "Cortex",
    "white_matter_ml": "White matter",
    "deep_grey_ml": "Deep grey",
    "cerebellum_brainstem_ml": "Cerebellum + stem",
    "ventricles_ml": "Ventricles",
    "csf_ml": "Extra-cerebral CSF",
    "ventricles_fraction_icv": "Ventricles / ICV",
    "cyst_count": "Cysts, n",
    "cyst_total_mm3": "Cysts, volume",
    "punctate_count": "Punctate, n",
    "punctate_total_mm3": "Punctate, volume",
}
SIDED = {
    "ventricular_index": "Ventricular index",
    "anterior_horn_width": "Anterior horn",
    "thalamo_occipital_distance": "Thalamo-occipital",
}
FLAG_COLOURS = {"high": "#ffb74d", "low": "#ffb74d", "extreme high": "#ff7043", "extreme low": "#ff7043"}
PMA_PROMPT = (
    "PMA unknown: values only. Enter the post-menstrual age at scan to compare each measure with its age reference."
)
POINT_COLOUR = (255, 0, 255)
BAND_COLOUR = (100, 181, 246, 60)
MEAN_COLOUR = (100, 181, 246)


def short_name(m) -> str:
    """The table's name of a measurement (``"Anterior horn L"``); its full name otherwise."""
    if m.key in SHORT_NAMES:
        return SHORT_NAMES[m.key]
    for stem, name in SIDED.items():
        for side, letter in (("left", "L"), ("right", "R")):
            if m.key == f"{stem}_{side}_mm":
                return f"{name} {letter}"
    return m.name


def _fmt(value, digits: int = 4) -> str:
    return "" if value is None else f"{float(value):.{digits}g}"


def measurements_csv(report) -> str:
    """The report's measurements as CSV text (one row per measure; references where the PMA is known)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for m in report.measurements:
        ref = m.reference
        writer.writerow(
            [
                m.key,
                m.name,
                _fmt(m.value, 6),
                m.unit,
                _fmt(report.pma_weeks),
                "" if ref is None else _fmt(ref.mean, 6),
                "" if ref is None or ref.sd is None else _fmt(ref.sd, 6),
                "" if m.z is None else f"{m.z:.2f}",
                "" if m.centile is None else f"{m.centile:.1f}",
                m.flag,
                "" if ref is None else ref.source,
                m.definition,
                report.source,
            ]
        )
    return buf.getvalue()


def reference_rows(key: str) -> list:
    """The bundled reference table's rows of measure ``key`` by week ([] when it has none or cannot be read)."""
    try:
        from model.norms_table import NormTable

        table = NormTable.load()
    except (ImportError, ValueError, OSError):
        return []
    return [r for r in table.rows() if r.key == key]


def centile_text(m) -> str:
    """``"-4.9 (<1st)"``: the z-score and its centile ("—" without a spread)."""
    if m.z is None:
        return "—"
    z = f"{m.z:+.1f}" if abs(m.z) >= 0.05 else "0.0"  # no "-0.0"
    if m.centile is None:
        return z
    c = m.centile
    centile = "<1st" if c < 1 else ">99th" if c > 99 else f"{c:.0f}{_ordinal(round(c))}"
    return f"{z} ({centile})"


def _ordinal(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def short_reference(ref) -> str:
    """The reference in a table cell: ``"174 ± 33.8"`` or ``"29.9 (no SD)"`` (unit and PMA are said once)."""
    if ref is None:
        return "—"
    return f"{number(ref.mean)} ± {number(ref.sd)}" if ref.sd is not None else f"{number(ref.mean)} (no SD)"


def source_parts(source: str) -> list:
    """A reference's source split at its top-level "; " (not inside parentheses), stripped."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(source):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and source.startswith("; ", i):
            parts.append(source[start:i].strip())
            start = i + 2
    parts.append(source[start:].strip())
    return [p for p in parts if p]


def distinct_sources(report) -> list:
    """Every distinct part of the sources of the report's references, in order of appearance."""
    seen: list = []
    for m in report.measurements:
        if m.reference is not None:
            for part in source_parts(m.reference.source):
                if part not in seen:
                    seen.append(part)
    return seen


class MeasurementsPanel(QWidget):
    """The measurements of the shown label map (``window.reading.measurements_panel``).

    Attributes
    ----------
    notice_label : QLabel
    pma_button, show_anyway_button, copy_button : QPushButton
    table : QTableWidget
        One row per measurement: :data:`COLUMNS`.
    sources_label, notes_label : QLabel
    chart : pyqtgraph.PlotWidget
        The selected measure's reference by PMA and this infant.
    """

    def __init__(self, room: RoomHost, parent=None):
        super().__init__(parent)
        self.setObjectName("MeasurementsPanel")
        self.room = room
        self.seg = room.seg
        self._key = None  # the measure charted

        self.notice_label = QLabel()
        self.notice_label.setObjectName("MeasurementsNotice")
        self.notice_label.setWordWrap(True)
        self.pma_button = QPushButton("Enter PMA…")
        self.pma_button.setToolTip("Go to the post-menstrual age entry")
        self.pma_button.clicked.connect(room.enter_pma)
        self.show_anyway_button = QPushButton("Show measurements anyway")
        self.show_anyway_button.clicked.connect(room.show_anyway)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)
        self.source_label.setObjectName("DetailName")

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("MeasurementsTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # as tall as its rows
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)  # long measure names wrap
        self.table.currentCellChanged.connect(lambda row, *_: self._on_row(row))
        header.sectionResized.connect(self._fit_rows)

        self.sources_label = QLabel()
        self.sources_label.setWordWrap(True)
        self.sources_label.setObjectName("ReferenceSources")
        self.sources_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setObjectName("DetailName")

        self.chart = pg.PlotWidget(background="#1c1c1c")
        self.chart.setObjectName("GrowthChart")
        self.chart.setMinimumHeight(230)
        self.chart.setMouseEnabled(x=False, y=False)
        self.chart.hideButtons()
        self.chart.setMenuEnabled(False)
        self.chart.showGrid(x=True, y=True, alpha=0.2)
        self.chart.setLabel("bottom", "Post-menstrual age (weeks)")
        self.chart_caption = QLabel()
        self.chart_caption.setWordWrap(True)
        self.chart_caption.setObjectName("DetailName")
        self.chart_box = QGroupBox("Growth chart")
        cl = QVBoxLayout(self.chart_box)
        cl.setContentsMargins(6, 4, 6, 6)
        cl.addWidget(self.chart)
        cl.addWidget(self.chart_caption)

        self.copy_button = QPushButton("Copy as CSV")
        self.copy_button.setToolTip("Copy the measurements, references and flags as CSV text")
        self.copy_button.clicked.connect(lambda: room.copy_measurements_csv())

        top = QHBoxLayout()
        top.addWidget(self.pma_button)
        top.addWidget(self.show_anyway_button)
        top.addStretch(1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        layout.addWidget(self.notice_label)
        layout.addLayout(top)
        layout.addWidget(self.source_label)
        layout.addWidget(self.table)
        layout.addWidget(self.chart_box)
        layout.addWidget(self.sources_label)
        layout.addWidget(self.notes_label)
        layout.addStretch(1)

        self.seg.changed.connect(self.refresh)
        self.refresh()

    # -- what is shown ---------------------------------------------------------------------------------
    def _notice(self) -> tuple:
        seg, room = self.seg, self.room
        if room.state.volume is None:
            return "Open a scan.", NOTICE_STYLE
        if seg.labels is None:
            if seg.weights_without_decoder:
                return room.NOT_AVAILABLE_TEXT, NOTICE_STYLE
            return "No segmentation yet: Analyse, or File > Open segmentation…", NOTICE_STYLE
        if seg.withheld:
            return room.withheld_text(), OOD_STYLE
        if seg.blinded:
            return room.BLINDED_TEXT, NOTICE_STYLE
        if seg.report is None:
            return seg.report_error or room.NO_MEASURE_TEXT, NOTICE_STYLE
        if seg.report.pma_weeks is None:
            return PMA_PROMPT, NOTICE_STYLE
        return "", ""

    def shown_report(self):
        """The report whose measurements are on screen (None when none may be shown)."""
        return self.seg.report if self.seg.findings_shown else None

    def refresh(self, *_args) -> None:
        text, style = self._notice()
        self.notice_label.setText(text)
        self.notice_label.setStyleSheet(style)
        self.notice_label.setVisible(bool(text))
        report = self.shown_report()
        self.pma_button.setVisible(report is not None and report.pma_weeks is None)
        self.show_anyway_button.setVisible(self.seg.withheld and not self.seg.blinded)
        self.copy_button.setEnabled(report is not None)
        for w in (self.table, self.sources_label, self.notes_label, self.chart_box, self.source_label):
            w.setVisible(report is not None)
        if report is None:
            self.table.setRowCount(0)
            return
        pma = report.pma_weeks
        where = "the weights' segmentation" if report.source == "model" else self.seg.file_map.path.name
        age = f"at PMA {pma:.1f} weeks ({report.pma_source or 'source not given'})" if pma is not None else ""
        self.source_label.setText(f"Measured on {where} {age}".strip() + ".")
        self._fill_table(report)
        sources = distinct_sources(report)
        self.sources_label.setText(
            "<b>References</b><br>" + "<br>".join(f"• {escape_html(p)}" for p in sources)
            if sources
            else "<b>References</b>: none at this PMA."
        )
        self.notes_label.setText("<br>".join(f"• {n}" for n in getattr(report, "notes", []) or []))
        self.notes_label.setVisible(bool(getattr(report, "notes", None)))
        keys = [m.key for m in report.measurements]
        if self._key not in keys:
            referenced = [m.key for m in report.measurements if m.reference is not None]
            self._key = "ventricles_ml" if "ventricles_ml" in keys else (referenced or keys or [None])[0]
        if self._key in keys:
            self.table.blockSignals(True)
            self.table.selectRow(keys.index(self._key))
            self.table.blockSignals(False)
        self.draw_chart()

    def _fill_table(self, report) -> None:
        rows = report.measurements
        pma = report.pma_weeks
        self.table.setHorizontalHeaderItem(2, QTableWidgetItem("Reference" if pma is None else f"Ref. {pma:g} wk"))
        self.table.setRowCount(len(rows))
        for r, m in enumerate(rows):
            values = (
                short_name(m),
                number(m.value, m.unit),
                short_reference(m.reference),
                centile_text(m),
                m.flag or "",
            )
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                tip = f"{m.name}: {m.definition}"
                if m.reference is not None:
                    tip += f"\nReference: {reference_text(m.reference, m.unit)}; {m.reference.source}"
                item.setToolTip(tip.strip())
                if c in (1, 2, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if m.flag and c == 4:
                    item.setForeground(pg.mkColor(FLAG_COLOURS.get(m.flag, "#ffb74d")))
                self.table.setItem(r, c, item)
        self._fit_rows()

    def resizeEvent(self, ev):  # noqa: N802 - Qt hook
        super().resizeEvent(ev)
        QTimer.singleShot(0, self._fit_rows)  # after the columns took their new widths

    def showEvent(self, ev):  # noqa: N802 - Qt hook
        super().showEvent(ev)
        QTimer.singleShot(0, self._fit_rows)

    def _fit_rows(self, *_args) -> None:
        """Rows as tall as their wrapped names, the table as tall as its rows (the tab scrolls, not it)."""
        self.table.resizeRowsToContents()
        height = self.table.horizontalHeader().height() + 2 * self.table.frameWidth()
        height += sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(height + 2)

    def _on_row(self, row: int) -> None:
        report = self.shown_report()
        if report is None or not 0 <= row < len(report.measurements):
            return
        self._key = report.measurements[row].key
        self.draw_chart()

    def select_measure(self, key: str) -> None:
        """Chart measure ``key`` (and select its row)."""
        report = self.shown_report()
        keys = [m.key for m in report.measurements] if report is not None else []
        if key in keys:
            self.table.selectRow(keys.index(key))
            self._key = key
            self.draw_chart()

    # -- the growth chart ------------------------------------------------------------------------------
    def draw_chart(self) -> None:
        """The selected measure's reference by PMA (band ± 2 SD where published) and this infant."""
        self.chart.clear()
        report = self.shown_report()
        m = None if report is None else report.measurement(self._key)
        if m is None:
            self.chart_caption.setText("")
            return
        unit = unit_text(m.unit)
        self.chart.setLabel("left", f"{m.name}" + (f" ({unit})" if unit else ""))
        rows = reference_rows(m.key)
        caption = []
        if rows:
            weeks = np.array([r.pma_weeks for r in rows], float)
            mean = np.array([r.mean for r in rows], float)
            self.chart.plot(weeks, mean, pen=pg.mkPen(MEAN_COLOUR, width=2), name="reference mean")
            with_sd = np.array([r.sd is not None for r in rows])
            if with_sd.any():
                sd = np.array([r.sd if r.sd is not None else np.nan for r in rows], float)
                w, lo, hi = weeks[with_sd], (mean - 2 * sd)[with_sd], (mean + 2 * sd)[with_sd]
                lower = pg.PlotDataItem(w, lo, pen=pg.mkPen(MEAN_COLOUR, width=1, style=Qt.PenStyle.DashLine))
                upper = pg.PlotDataItem(w, hi, pen=pg.mkPen(MEAN_COLOUR, width=1, style=Qt.PenStyle.DashLine))
                self.chart.addItem(lower)
                self.chart.addItem(upper)
                self.chart.addItem(pg.FillBetweenItem(lower, upper, brush=pg.mkBrush(*BAND_COLOUR)))
                caption.append(
                    f"Band: mean ± 2 SD at {w.min():g}-{w.max():g} weeks, where a spread is published; "
                    "elsewhere the expected value only."
                )
            else:
                caption.append("Line: the expected value by week (no published spread, so no band).")
            caption.append("Reference: the bundled table (model.norms); its sources are listed below.")
        else:
            caption.append("No age reference by PMA for this measure.")
        if report.pma_weeks is not None:
            brush = pg.mkBrush(*POINT_COLOUR)
            self.chart.plot(
                [report.pma_weeks],
                [m.value],
                pen=None,
                symbol="o",
                symbolSize=11,
                symbolBrush=brush,
                name="this infant",
            )
            caption.insert(0, f"● this infant: {number(m.value, m.unit)} at {report.pma_weeks:.1f} weeks.")
        else:
            caption.insert(0, f"This infant: {number(m.value, m.unit)}; enter the PMA to place it on the chart.")
        self.chart.setTitle(m.name, color="#e0e0e0", size="10pt")
        self.chart_caption.setText(" ".join(caption))

    def chart_point(self) -> tuple | None:
        """(PMA, value) of the infant's point on the chart, or None (for tests)."""
        for item in self.chart.listDataItems():
            if item.opts.get("symbol") == "o":
                x, y = item.getData()
                return float(x[0]), float(y[0])
        return None
