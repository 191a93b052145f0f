"""The reading room (issue 29): segmentation overlay, findings, measurements, and a label map from a file.

:func:`install_reading_room` adds to the main window, without the window knowing the details:

* a :class:`viewer.segmentation_state.SegmentationState` (``window.reading.seg``) and one
  :class:`viewer.views.segmentation_overlay.SegmentationLayer` per plane;
* the **Findings** tab (:class:`viewer.panels.findings_panel.FindingsPanel`: overlay controls, legend,
  findings) and the **Measurements** tab (:class:`viewer.panels.measurements_panel.MeasurementsPanel`);
* View > Segmentation: Show segmentation (S), Filled labels (Shift+S), Next finding (N), Previous
  finding (Shift+N); File > Open segmentation…; all listed by Help > Keyboard shortcuts;
* the reader's agreement with a finding, recorded in the audit log (``decision: "finding"``,
  :meth:`viewer.controllers.reader.ReaderController.record_finding`);
* the label under the cursor in the status-bar readout (:meth:`ReadingRoom.readout_text`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QGuiApplication
from PyQt6.QtWidgets import QFileDialog, QMenu, QMessageBox, QScrollArea

from model.disclosure import suitability_text
from model.label_map import (
    CONVENTIONS,
    DRAWEM,
    SERAG,
    LabelMapError,
    detect_convention,
    load_label_map,
    read_label_file,
)
from model.record.audit import AuditLogError
from viewer.controllers.actions import make_action
from viewer.controllers.host import WindowHost
from viewer.panels.decision_history import scan_entries
from viewer.panels.findings_panel import FindingsPanel
from viewer.panels.measurements_panel import MeasurementsPanel, measurements_csv
from viewer.segmentation_state import SegmentationState, finding_key
from viewer.views.segmentation_overlay import SegmentationLayer

if TYPE_CHECKING:
    from PyQt6.QtGui import QAction
    from PyQt6.QtWidgets import QMenuBar, QTabWidget

    from viewer.controllers.reader import ReaderController
    from viewer.panels.measure_panel import MeasurePanel
    from viewer.panels.result_panel import ResultPanel
    from viewer.state import ViewerState
    from viewer.views.ortho_view import OrthoView

NIFTI_FILTER = "NIfTI label maps (*.nii *.nii.gz);;All files (*)"
#: Milliseconds the PMA entry must rest before the measurements are remade at the new age.
PMA_SETTLE_MS = 400


class ReadingRoomHost(WindowHost, Protocol):
    """What the reading room needs of the window, beyond :class:`WindowHost`.

    The planes to draw on (``ortho``), the side tabs to add to (``tabs``), the result panel's
    out-of-distribution notice (``panel``), the PMA entry (``measure``), the reader controller that
    records agreement with a finding (``reader``), the menu bar and the actions it places its own
    next to, and ``update_readout`` for the label under the cursor.
    """

    ortho: OrthoView
    tabs: QTabWidget
    panel: ResultPanel
    measure: MeasurePanel
    reader: ReaderController
    open_action: QAction
    sample_action: QAction
    radiological_action: QAction
    overlay_action: QAction

    def menuBar(self) -> QMenuBar: ...  # noqa: N802 - Qt API

    def update_readout(self, *_args) -> None: ...


class ReadingRoom:
    """The reading room of one main window (``window.reading``).

    Attributes
    ----------
    seg : SegmentationState
    layers : dict
        Plane name -> :class:`SegmentationLayer`.
    findings_panel : FindingsPanel
    measurements_panel : MeasurementsPanel
    seg_visible_action, seg_filled_action, next_finding_action, previous_finding_action,
    open_segmentation_action : QAction
    """

    NOT_AVAILABLE_TEXT = (
        "Measurements are not available with these weights: they have no segmentation decoder. "
        "File > Open segmentation… reads a label map from your own pipeline instead."
    )
    BLINDED_TEXT = (
        "Findings and measurements are hidden until you record your impression (reader-first mode): "
        "Reader > Normal / Injury / Unsure. The tissue outlines stay; the injury labels are hidden."
    )
    NO_MEASURE_TEXT = "Measurements cannot be made in this installation."

    def __init__(self, window: ReadingRoomHost):
        self.w = window
        self._found_pma: dict = {}  # scan path -> (weeks, source) from its metadata (model.pma)
        self.seg = SegmentationState(window.state, pma=self.pma, parent=window)
        self.layers = {plane: SegmentationLayer(view, self.seg) for plane, view in window.ortho.views.items()}
        self._build_actions()
        self.findings_panel = FindingsPanel(self)
        self.findings_panel.set_navigation_actions(self.previous_finding_action, self.next_finding_action)
        self.measurements_panel = MeasurementsPanel(self)
        self.findings_tab = self._add_tab(self.findings_panel, "Findings")
        self.measurements_tab = self._add_tab(self.measurements_panel, "Measurements")
        self._install_menus()
        self._pma_timer = QTimer(window)
        self._pma_timer.setSingleShot(True)
        self._pma_timer.setInterval(PMA_SETTLE_MS)
        self._pma_timer.timeout.connect(self.seg.refresh_report)
        window.measure.pma_spin.valueChanged.connect(lambda _v: self._pma_timer.start())
        self.seg.changed.connect(self._on_changed)
        self.seg.display_changed.connect(self._on_display_changed)
        window.state.scan_changed.connect(lambda _s: self._load_decisions())
        self._on_display_changed()
        self._on_changed()

    @property
    def state(self) -> ViewerState:
        """The window's :class:`viewer.state.ViewerState` (what the tabs read the scan from)."""
        return self.w.state

    # -- building --------------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        w, seg = self.w, self.seg
        self.seg_visible_action = make_action(
            w, "Show &segmentation", seg.set_visible, "S", "Show the tissue label map over the scan", checkable=True
        )
        self.seg_filled_action = make_action(
            w,
            "&Filled labels",
            seg.set_filled,
            "Shift+S",
            "Fill the labels (off: outlines only, the anatomy stays visible)",
            checkable=True,
        )
        self.next_finding_action = make_action(
            w, "&Next finding", seg.next_finding, "N", "Go to the next finding in all three planes"
        )
        self.next_finding_action.setIconText("Next ▶")
        self.previous_finding_action = make_action(
            w, "&Previous finding", seg.previous_finding, "Shift+N", "Go to the previous finding"
        )
        self.previous_finding_action.setIconText("◀ Previous")
        self.open_segmentation_action = make_action(
            w,
            "Open se&gmentation…",
            lambda: self.open_segmentation_dialog(),
            None,
            "Show a tissue label map (Draw-EM / dHCP convention) of the open scan, and measure it",
        )
        self.copy_csv_action = make_action(
            w, "Copy &measurements as CSV", lambda: self.copy_measurements_csv(), None, "Measurements with references"
        )

    def _add_tab(self, widget, title: str) -> QScrollArea:
        scroll = QScrollArea()
        scroll.setWidget(widget)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.w.tabs.addTab(scroll, title)
        return scroll

    def _install_menus(self) -> None:
        w = self.w
        menus = [a.menu() for a in w.menuBar().actions() if a.menu() is not None]
        file_menu = next((m for m in menus if w.open_action in m.actions()), menus[0])
        file_menu.insertAction(w.sample_action, self.open_segmentation_action)
        view_menu = next((m for m in menus if w.radiological_action in m.actions()), None)
        submenu = QMenu("&Segmentation", w)
        submenu.setObjectName("SegmentationMenu")
        for a in (
            self.seg_visible_action,
            self.seg_filled_action,
            None,
            self.next_finding_action,
            self.previous_finding_action,
            None,
            self.copy_csv_action,
        ):
            if a is None:
                submenu.addSeparator()
            else:
                submenu.addAction(a)
        self.menu = submenu
        if view_menu is not None:
            items = view_menu.actions()
            heatmap = next((a for a in items if a.menu() is not None and w.overlay_action in a.menu().actions()), None)
            n = items.index(heatmap) + 1 if heatmap is not None else len(items)
            if n < len(items):
                view_menu.insertMenu(items[n], submenu)  # right after View > Heatmap
            else:
                view_menu.addMenu(submenu)
        else:
            w.menuBar().addMenu(submenu)

    def pma(self) -> tuple:
        """(weeks, source) of the open scan's PMA: the reader's entry, else the scan's own metadata
        (:func:`model.pma.pma_for`: JSON sidecar, BIDS sessions.tsv / participants.tsv, DICOM text),
        else ``(None, "")``."""
        weeks = self.w.measure.pma_weeks
        if weeks is not None:
            return weeks, "reader"
        volume = self.w.state.volume
        path = None if volume is None else volume.path
        if path is None:
            return None, ""
        if path not in self._found_pma:
            try:
                from model.pma import pma_for
            except ImportError:
                return None, ""
            self._found_pma[path] = pma_for(path)
        return self._found_pma[path]

    # -- state -> window -------------------------------------------------------------------------------
    def _on_changed(self) -> None:
        seg = self.seg
        available = seg.overlay_available
        for a in (self.seg_visible_action, self.seg_filled_action):
            a.setEnabled(available)
        has_findings = bool(seg.findings)
        self.next_finding_action.setEnabled(has_findings)
        self.previous_finding_action.setEnabled(has_findings)
        self.copy_csv_action.setEnabled(seg.findings_shown)
        self.open_segmentation_action.setEnabled(self.w.state.volume is not None)
        self._refresh_readout()

    def _on_display_changed(self) -> None:
        for a, on in ((self.seg_visible_action, self.seg.visible), (self.seg_filled_action, self.seg.filled)):
            a.blockSignals(True)
            a.setChecked(on)
            a.blockSignals(False)
        self._refresh_readout()

    def _refresh_readout(self) -> None:
        if hasattr(self.w, "readout_label"):  # the status bar is built after the reading room
            self.w.update_readout()

    def readout_text(self) -> str:
        """``"label: white matter"`` for the status-bar readout ('' when no label map may be shown)."""
        text = self.seg.label_text()
        return f"label: {text}" if text else ""

    def withheld_text(self) -> str:
        return (
            f"{suitability_text(self.seg.result)}. Findings and measurements of the weights' segmentation are "
            "not shown as results for this scan."
        )

    # -- commands --------------------------------------------------------------------------------------
    def show_anyway(self) -> None:
        """The reader asks to see an out-of-distribution result anyway (the result panel's toggle)."""
        notice = getattr(self.w.panel, "ood_notice", None)
        if notice is not None:
            notice.show_anyway.setChecked(True)
        else:
            self.w.state.set_ood_revealed(True)

    def enter_pma(self) -> None:
        """Take the reader to the PMA entry (wherever the window keeps it)."""
        spin = self.w.measure.pma_spin
        for i in range(self.w.tabs.count()):
            page = self.w.tabs.widget(i)
            if page.isAncestorOf(spin):
                self.w.tabs.setCurrentIndex(i)
        spin.setFocus()
        spin.selectAll()

    def show_findings(self) -> None:
        self.w.tabs.setCurrentWidget(self.findings_tab)

    def open_segmentation_dialog(self) -> None:
        """File > Open segmentation…: choose a label map of the open scan; ask how to read 8/9 if unclear."""
        volume = self.w.state.volume
        if volume is None:
            self.w.show_error("No scan", "Open the scan first; a label map is shown on its own scan.")
            return
        start = str(volume.path.parent) if volume.path is not None else ""
        path, _ = QFileDialog.getOpenFileName(self.w, "Open a tissue label map of this scan", start, NIFTI_FILTER)
        if not path:
            return
        convention = None
        try:
            values = read_label_file(path)[0]
        except LabelMapError as exc:
            self.w.show_error("Cannot open this segmentation", str(exc))
            return
        present = set(np.unique(values).tolist())
        if present & {8, 9} and not present & {10, 11}:
            convention = self.ask_convention(Path(path).name, detect_convention(values))
            if convention is None:
                return
        self.open_segmentation(path, convention)

    def ask_convention(self, name: str, detected: str | None) -> str | None:
        """Values 8 and 9 mean brainstem / hippocampi (dHCP Draw-EM) or white matter (Serag templates):
        ask, the detected reading first (tests replace this method). None = cancelled."""
        box = QMessageBox(self.w)
        box.setWindowTitle("How to read labels 8 and 9?")
        guess = f" It looks like {CONVENTIONS[detected]}." if detected else " It cannot be told from the map."
        box.setText(f"{name} uses labels 8 and 9, which the two 9-class conventions read differently.{guess}")
        drawem = box.addButton("dHCP Draw-EM: 8 brainstem, 9 hippocampi", QMessageBox.ButtonRole.AcceptRole)
        serag = box.addButton("Serag template: 8/9 white matter", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(serag if detected == SERAG else drawem)
        box.exec()
        return {drawem: DRAWEM, serag: SERAG}.get(box.clickedButton())

    def open_segmentation(self, path: str | Path, convention: str | None = None):
        """Read a label map onto the open scan and show it; returns the LabelMap (None on failure)."""
        volume = self.w.state.volume
        if volume is None:
            self.w.show_error("No scan", "Open the scan first; a label map is shown on its own scan.")
            return None
        try:
            label_map = load_label_map(path, volume, convention)
        except LabelMapError as exc:
            self.w.show_error("Cannot open this segmentation", str(exc))
            return None
        self.seg.set_file_map(label_map)
        self.seg.set_visible(True)
        self._load_decisions()
        n = len(self.seg.findings)
        said = label_map.note + (f"; {n} finding(s)" if self.seg.findings_shown else "")
        self.w.statusBar().showMessage(f"Segmentation {Path(path).name}: {said}", 10000)
        self.show_findings()
        return label_map

    def copy_measurements_csv(self) -> str:
        """Copy the shown measurements as CSV to the clipboard; returns the text ('' when none may be shown)."""
        report = self.measurements_panel.shown_report()
        if report is None:
            self.w.show_error("No measurements", "There are no measurements shown to copy.")
            return ""
        text = measurements_csv(report)
        QGuiApplication.clipboard().setText(text)
        self.w.statusBar().showMessage(f"Copied {len(report.measurements)} measurements as CSV", 5000)
        return text

    def record_finding(self, agreed: bool, index: int | None = None) -> dict | None:
        """Record the reader's agreement with finding ``index`` (default: the current one); returns the entry."""
        seg = self.seg
        index = seg.current if index is None else int(index)
        findings = seg.findings
        if not 0 <= index < len(findings):
            self.w.show_error("No finding", "Choose a finding first (N goes to the next one).")
            return None
        f = findings[index]
        lesion = seg.lesion_of(f)
        report = seg.report
        payload = {
            "agreed": bool(agreed),
            "kind": f.kind,
            "key": finding_key(f),
            "summary": f.summary,
            "location_ras_mm": [round(float(v), 2) for v in f.location_ras_mm],
            "value": None if f.value is None else round(float(f.value), 4),
            "unit": f.unit,
            "confidence": round(float(f.confidence), 3),
            "label": f.label,
            "component": f.component,
            "evidence": [str(e) for e in f.evidence],
            "source": seg.source,
            "report_pma_weeks": report.pma_weeks,
        }
        if f.reference is not None:
            ref = f.reference
            payload["reference"] = {"source": ref.source, "pma_weeks": ref.pma_weeks, "mean": ref.mean, "sd": ref.sd}
        if lesion is not None:
            payload["volume_mm3"] = round(float(lesion.volume_mm3), 2)
            payload["diameter_mm"] = round(float(lesion.diameter_mm), 2)
        entry = self.w.reader.record_finding(payload)
        if entry is not None:
            seg.note_decision(f, agreed, entry.get("seq"))
            self.w.statusBar().showMessage(
                f"Recorded: {'agreed' if agreed else 'not agreed'} with {f.kind} (audit entry #{entry.get('seq')})",
                8000,
            )
        return entry

    def _load_decisions(self) -> None:
        volume = self.w.state.volume
        try:
            entries = scan_entries(self.w.audit_path, None if volume is None else volume.sha256)
        except AuditLogError:
            entries = []
        self.seg.load_decisions(entries)


def install_reading_room(window: ReadingRoomHost) -> ReadingRoom:
    """Add the reading room to ``window`` (see the module docstring); returns it (``window.reading``)."""
    return ReadingRoom(window)
