"""The main window: views and side panels around one :class:`ViewerState`, and the window's interface.

The window owns one :class:`ViewerState` (what is shown) and the views that draw it
(:class:`OrthoView`, the side panels -- :class:`ResultPanel` with the :class:`ReaderPanel`,
:class:`ImagePanel`, :class:`HeaderPanel` -- and the status bar). The work is elsewhere, each in its
own module: services (``feedback``, ``jobs`` = :class:`viewer.services.job_runner.JobRunner`, ``models`` =
:class:`viewer.services.model_provider.ModelProvider`, ``recorder`` = :class:`viewer.controllers.audit.AuditRecorder`)
and controllers (``opener``, ``analysis``, ``reader``, ``exports``); every command is a QAction built
by :mod:`viewer.controllers.actions`. The public methods here (``open_path``, ``start_analysis``,
``record_decision``, ``export_report``, ...) forward to them, so the window is what tests and the
batch dialog (:class:`viewer.batch.host.BatchHost`) talk to. Long work runs as generators from
:mod:`viewer.services.jobs` in a :class:`viewer.services.worker.GeneratorWorker`; errors reach the reader as one line.
A Batch menu is added by ``viewer.batch.dialog.install_batch_menu(window)`` before
:attr:`MainWindow.help_menu`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QGuiApplication, QIcon
from PyQt6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QScrollArea, QSplitter, QTabWidget

import model
from model.dicom import is_dicom_input  # issue 9
from model.record.report import card_facts
from model.volume import is_nifti_path
from viewer.batch.dialog import install_batch_menu
from viewer.controllers import actions as window_actions
from viewer.controllers.analysis import AnalysisController
from viewer.controllers.audit import AuditRecorder
from viewer.controllers.dicom import install_dicom  # issue 9
from viewer.controllers.exports import ExportController
from viewer.controllers.reader import ReaderController
from viewer.controllers.reading_room import install_reading_room
from viewer.controllers.scan_opener import ScanOpener
from viewer.display import LAYOUTS, PLANES
from viewer.panels.decision_history import DecisionHistory
from viewer.panels.header_panel import HeaderPanel
from viewer.panels.image_panel import ImagePanel
from viewer.panels.measure_panel import MeasurePanel
from viewer.panels.orientation_notice import with_orientation_notice
from viewer.panels.reader_panel import ReaderPanel
from viewer.panels.result_panel import IDLE_TEXT, ResultPanel
from viewer.panels.shortcuts import ShortcutsDialog
from viewer.services.feedback import Feedback, confirm_overwrite
from viewer.services.job_runner import JobRunner
from viewer.services.model_provider import ModelProvider
from viewer.services.settings import Settings, set_application_identity, start_folder
from viewer.services.worker import GeneratorWorker
from viewer.state import ViewerState
from viewer.views.info_panel import readout_of
from viewer.views.ortho_view import OrthoView

log = logging.getLogger(__name__)

APP_TITLE = "GloResNet second reader"
#: How long closing the window waits for a running job to stop, ms.
CLOSE_WAIT_MS = 30_000
ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "icons" / "gloresnet.svg"


class MainWindow(QMainWindow):
    """The second reader's window.

    Parameters
    ----------
    weights_dir : str or Path, optional
        Weights folder used by Analyse (default :data:`model.DEFAULT_WEIGHTS_DIR`).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (:func:`model.inference.select_device`).
    settings : viewer.services.settings.Settings, optional
        Persisted settings (default: the user's).
    audit_path : str or Path, optional
        Audit log file (default: ``settings.audit_log_path``, in the user's application data).

    Signals
    -------
    scan_loaded(object)
        A scan was opened and is shown (:class:`viewer.display.Scan`).
    scan_failed(str)
        Opening failed; the one-line reason (the previous scan stays).
    analysis_finished(object)
        ``AnalysisResult`` now shown.
    analysis_stopped(str)
        ``"cancelled"`` or ``"failed"``.
    busy_changed(bool)
        An analysis started (True) or ended (False).
    model_loaded(object)
        Model > Load weights succeeded (``LoadedModel``).
    model_failed(str)
        Loading weights failed; the one-line reason.
    decision_recorded(dict)
        An audit entry was appended (the entry as written).
    export_written(str)
        An export (screenshot, report, heatmap) was written to this path.
    """

    scan_loaded = pyqtSignal(object)
    scan_failed = pyqtSignal(str)
    analysis_finished = pyqtSignal(object)
    analysis_stopped = pyqtSignal(str)
    busy_changed = pyqtSignal(bool)
    model_loaded = pyqtSignal(object)
    model_failed = pyqtSignal(str)
    decision_recorded = pyqtSignal(dict)
    export_written = pyqtSignal(str)

    def __init__(
        self,
        weights_dir: str | Path | None = None,
        device: str = "auto",
        settings: Settings | None = None,
        audit_path: str | Path | None = None,
        parent=None,
    ):
        super().__init__(parent)
        set_application_identity()
        self.settings = settings if settings is not None else Settings()
        self.audit_path = Path(audit_path) if audit_path is not None else self.settings.audit_log_path
        self.state = ViewerState(self)
        # services and controllers (each in its own module)
        self.jobs = JobRunner()
        self.models = ModelProvider(
            weights_dir if weights_dir is not None else model.DEFAULT_WEIGHTS_DIR, device, self.jobs, self
        )
        self.feedback = Feedback(self, self.statusBar())
        self.recorder = AuditRecorder(self)  # issue 11: signed entries, verified before appending
        self.analysis = AnalysisController(self)
        self.reader = ReaderController(self)
        self.exports = ExportController(self)
        self.opener = ScanOpener(self)

        self.setWindowTitle(APP_TITLE)
        if ICON_PATH.is_file():
            self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.setAcceptDrops(True)
        self.ortho = OrthoView(self.state)
        self.panel = ResultPanel(self.state)
        self.reader_panel = ReaderPanel(self.state)
        self.reader_panel.set_audit_path(self.audit_path)
        self.panel.set_reader_widget(self.reader_panel)
        self.image_panel = ImagePanel(self.state)
        self.header_panel = HeaderPanel(self.state)
        self.history = DecisionHistory(self)  # issue 11: the decisions on this scan, from the audit log
        self.measure = MeasurePanel(self)  # issue 11: ruler and PMA at scan
        self.panel.set_scan_widget(self.measure.pma_box)  # issue 30: PMA with the scan and the result
        self.tabs = QTabWidget()
        self.tabs.setObjectName("SideTabs")
        self.tabs.setDocumentMode(True)
        tabs = ((self.panel, "Result"), (self.image_panel, "Display"), (self.header_panel, "Scan"))
        for widget, title in (*tabs, (self.history, "History"), (self.measure, "Measure")):
            scroll = QScrollArea()
            scroll.setWidget(widget)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.tabs.addTab(scroll, title)
        self.tabs.setMinimumWidth(290)  # with three 160-px planes the window fits an 800-px screen (issue 30)
        self.tabs.setMaximumWidth(460)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(with_orientation_notice(self.ortho, self.state))  # issue 11: amber notice
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([1100, 380])
        self.setCentralWidget(self.splitter)

        window_actions.build_actions(self)
        window_actions.build_menus_and_toolbar(self)
        self.batch_action = install_batch_menu(self)  # Batch > Score folder… (Ctrl+B)
        self.dicom = install_dicom(self)  # issue 9: Open DICOM folder, series picker, identifiers, Export as DICOM
        self.reading = install_reading_room(self)  # issue 29: segmentation overlay, findings, measurements
        window_actions.build_status_bar(self)
        self.action_states = window_actions.ActionStates(self)
        self.panel.set_actions(self.analyse_action, self.cancel_action)
        self.reader_panel.set_actions(self.impression_actions, self.decision_actions)
        self.ortho.info.set_copy_action(self.copy_location_action)
        self.image_panel.add_view_actions(
            [
                [self.layout_actions["1x3"], self.layout_actions["2x2"], self.layout_actions["1x1"]],
                [self.zoom_in_action, self.zoom_out_action, self.reset_view_action],
                [self.goto_peak_action, self.crosshair_action, self.radiological_action],
            ]
        )

        self.state.scan_changed.connect(self._on_scan_changed)
        self.state.cursor_changed.connect(self.update_readout)
        self.state.window_changed.connect(self.update_readout)
        self.state.radiological_changed.connect(self.action_states.on_radiological_changed)
        self.state.overlay_changed.connect(self.action_states.on_overlay_changed)
        self.state.result_changed.connect(self.action_states.on_result_changed)
        self.state.reader_changed.connect(self.action_states.on_reader_changed)
        self.state.layout_changed.connect(self.action_states.on_layout_changed)
        self.state.invert_changed.connect(self.action_states.on_invert_changed)
        self.restore_settings()
        self.action_states.on_radiological_changed(self.state.radiological)
        self.action_states.on_overlay_changed()
        self.action_states.on_layout_changed(self.state.layout, self.state.single_plane)
        self._on_scan_changed(self.state.scan)
        self.models.card_changed.connect(self._show_model)
        self.models.loaded.connect(self._on_model_loaded)
        self.models.failed.connect(self._on_model_failed)
        self._show_weights_folder()
        self.set_busy(False)

    # -- the window's interface (delegates to the services and controllers) ------------------------
    weights_dir = property(
        lambda self: self.models.weights_dir,
        lambda self, folder: setattr(self.models, "weights_dir", Path(folder)),
        doc="Weights folder Analyse and Batch use (:class:`viewer.services.model_provider.ModelProvider`).",
    )
    device = property(lambda self: self.models.device, doc="Where the network runs (torch.device).")
    last_error = property(lambda self: self.feedback.last_error, doc="The last one-line error shown.")
    last_message_box = property(lambda self: self.feedback.last_message_box)
    busy = property(lambda self: self.analysis.busy, doc="True while an analysis runs.")
    blinding = property(lambda self: self.state.blinding, doc="Reader-first blinding of this session (issue 11).")

    def show_error(self, title: str, message: str) -> None:
        """Tell the reader in one line (non-blocking message box + status bar); never a traceback."""
        self.feedback.error(title, message)

    def start_analysis(self) -> GeneratorWorker | None:
        return self.analysis.start_analysis()

    def cancel_analysis(self) -> None:
        self.analysis.cancel_analysis()

    def record_impression(self, impression: str) -> dict | None:
        return self.reader.record_impression(impression)

    def record_decision(
        self, decision: str, reason: str | None = None, override_call: str | None = None
    ) -> dict | None:
        return self.reader.record_decision(decision, reason, override_call)

    def set_reader_first(self, on: bool) -> None:
        self.reader.set_reader_first(on)

    def ask_reader_name(self) -> str:
        return self.reader.ask_reader_name()

    def verify_audit_log(self):
        return self.reader.verify_audit_log()

    def export_screenshot(self, path: str | Path | None = None) -> Path | None:
        return self.exports.export_screenshot(path)

    def export_heatmap(self, path: str | Path | None = None) -> Path | None:
        return self.exports.export_heatmap(path)

    def export_report(self, path: str | Path | None = None) -> GeneratorWorker | None:
        return self.exports.export_report(path)

    def confirm_overwrite(self, path: Path) -> bool:
        """Ask before replacing ``path`` (:func:`viewer.services.feedback.confirm_overwrite`; tests replace this method)."""
        return confirm_overwrite(self, path)

    @property
    def analyse_button(self):
        """The toolbar button of the Analyse action."""
        return self.toolbar.widgetForAction(self.analyse_action)

    @property
    def cancel_button(self):
        """The toolbar button of the Cancel action."""
        return self.toolbar.widgetForAction(self.cancel_action)

    # -- opening scans ---------------------------------------------------------------------------
    def open_dialog(self) -> None:
        self.opener.open_dialog()

    def open_path(self, path: str | Path) -> GeneratorWorker:
        """Open a NIfTI file in the background; ``scan_loaded`` or ``scan_failed`` follows."""
        if is_dicom_input(Path(path)):  # issue 9: a folder or a non-NIfTI file is DICOM (viewer.controllers.dicom)
            return self.dicom.open_folder(Path(path))
        return self.opener.open_path(path)

    def open_sample(self) -> GeneratorWorker:
        """Open the simulated sample (``model.simulation.phantom.sample_image``) in the background."""
        return self.opener.open_sample()

    # -- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, ev):  # noqa: N802 - Qt hook
        if _dropped_files(ev.mimeData()):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dragMoveEvent(self, ev):  # noqa: N802 - Qt hook
        self.dragEnterEvent(ev)

    def dropEvent(self, ev):  # noqa: N802 - Qt hook
        files = _dropped_files(ev.mimeData())
        if not files:
            ev.ignore()
            return
        ev.acceptProposedAction()
        nifti = [f for f in files if is_nifti_path(f)]
        self.open_path(nifti[0] if nifti else files[0])  # a non-NIfTI file gets load_volume's message

    # -- analysis --------------------------------------------------------------------------------
    def closeEvent(self, ev):  # noqa: N802 - Qt hook
        self.save_window_settings()
        self.jobs.stop_all(CLOSE_WAIT_MS)
        super().closeEvent(ev)

    def set_busy(self, busy: bool) -> None:
        has_scan = self.state.volume is not None
        self.analyse_action.setEnabled(not busy and has_scan)
        self.cancel_action.setEnabled(busy)
        self.busy_changed.emit(busy)

    # -- model -------------------------------------------------------------------------------------
    def load_weights_dialog(self) -> None:
        start = str(start_folder(self.settings.q.value("files/last_weights_parent", "")))  # not the program's
        folder = QFileDialog.getExistingDirectory(
            self, "Choose a weights folder (model.safetensors + model_card.json)", start
        )
        if folder:
            self.settings.q.setValue("files/last_weights_parent", str(Path(folder).parent))
            self.load_weights(folder)

    def load_weights(self, folder: str | Path) -> GeneratorWorker:
        """Load a weights folder in the background; ``model_loaded`` or ``model_failed`` follows.

        On success it becomes the model of the next analysis (the shown result keeps its own model's
        name). A mismatch (card, hash, tensors) is reported as the checkpoint's one-line reason.
        """
        return self.models.load(folder, on_message=self.feedback.status)

    def _on_model_loaded(self, loaded) -> None:
        self.feedback.status(f"Model {loaded.card.name} v{loaded.card.version} loaded from {self.weights_dir}")
        self.model_loaded.emit(loaded)

    def _on_model_failed(self, message: str) -> None:
        self.show_error("Cannot load these weights", message)
        self.model_failed.emit(message)

    def _show_weights_folder(self) -> None:
        """Say which model Analyse will use, from the card alone (the weights load on first use)."""
        problem = self.models.read_current_card()
        if problem is not None:
            self.model_label.setText("Model: none")
            self.model_label.setStyleSheet("color: #ff8a65;")
            self.model_label.setToolTip(f"{problem}\nModel > Load weights to choose a weights folder.")

    def _show_model(self, card) -> None:
        demo = " (demo)" if card.demonstration else ""
        self.model_label.setStyleSheet("")
        self.model_label.setText(f"Model: {card.name} v{card.version}{demo} · {card.weights_sha256[:12]}")
        self.model_label.setToolTip(f"{self.weights_dir}\nweights SHA-256 {card.weights_sha256}")

    def show_model_card(self) -> None:
        card = self.models.card
        if card is None:
            self.show_error("No model", "No model card is available; Model > Load weights to choose a weights folder.")
            return
        rows = "".join(
            f"<tr><td style='color:#9e9e9e; padding-right:10px'>{_escape(k)}</td><td>{_escape(v)}</td></tr>"
            for k, v in card_facts(card)
        )
        self.feedback.message(QMessageBox.Icon.Information, "Model card", f"<table>{rows}</table>")

    # -- view ----------------------------------------------------------------------------------------
    def set_layout(self, layout: str) -> None:
        """Switch the plane layout; the one-plane layout maximises the active plane."""
        self.state.set_layout(layout, self.ortho.active_plane if layout == "1x1" else None)

    def reset_views(self) -> None:
        for view in self.ortho.views.values():
            view.reset_view()

    def set_crosshair(self, on: bool) -> None:
        """Show or hide the cursor lines in every plane (View > Show crosshair, C)."""
        for view in self.ortho.views.values():
            view.set_crosshair_visible(on)

    def go_to_heatmap_peak(self) -> None:
        """Move the cursor to the heatmap maximum inside the head (when the result is shown)."""
        if not self.state.result_visible or self.state.heatmap_withheld or self.state.heatmap_peak is None:
            return
        self.state.set_cursor(self.state.heatmap_peak)

    def copy_location(self) -> str:
        """Copy the cursor's location and values as one line of text; returns it."""
        readout = readout_of(self.state)
        if readout is None:
            return ""
        text = readout.location_text(self.state.scan.name)
        QGuiApplication.clipboard().setText(text)
        self.statusBar().showMessage("Copied: " + text, 5000)
        return text

    def show_shortcuts(self) -> ShortcutsDialog:
        """Help > Keyboard shortcuts, built from the menus now (so it includes menus added later)."""
        self.shortcuts_dialog = ShortcutsDialog(self.menuBar(), self)
        self.shortcuts_dialog.open()
        return self.shortcuts_dialog

    # -- settings ------------------------------------------------------------------------------------
    def restore_settings(self) -> None:
        """Apply the persisted view, overlay and reader settings, and the window geometry."""
        s, st = self.settings, self.state
        st.set_radiological(s.radiological)
        overlay = s.overlay()
        if overlay:
            st.set_overlay_visible(overlay["visible"])
            st.set_overlay_opacity(overlay["opacity"])
            if overlay["colormap"] in self.panel.colormap_names():
                st.set_overlay_colormap(overlay["colormap"])
            st.set_overlay_threshold(overlay["threshold"])
            st.set_overlay_contours(overlay["contours"])
        layout, plane = s.layout
        if layout in LAYOUTS and plane in PLANES:
            st.set_layout(layout, plane)
        st.set_reader_first(s.reader_first)
        geometry, splitter = s.window_geometry(), s.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def save_window_settings(self) -> None:
        self.settings.save_window(self.saveGeometry(), self.splitter.saveState())
        self.settings.sync()

    # -- state -> window -------------------------------------------------------------------------
    def _on_scan_changed(self, scan) -> None:
        self.setWindowTitle(APP_TITLE if scan is None else f"{scan.name} — {APP_TITLE}")
        if scan is not None:
            self.panel.show_message(IDLE_TEXT)
        has_scan = scan is not None
        for a in (
            self.screenshot_action,
            self.copy_location_action,
            self.reset_view_action,
            self.zoom_in_action,
            self.zoom_out_action,
            self.next_slice_action,
            self.prev_slice_action,
            self.full_range_action,
            self.neonatal_action,
            self.reset_window_action,
        ):
            a.setEnabled(has_scan)
        self.set_busy(self.busy)
        self.update_readout()
        self.action_states.on_reader_changed()

    def show_tab(self, panel, focus=None) -> None:
        """Bring the side panel's tab holding ``panel`` to the front (and focus ``focus``)."""
        for i in range(self.tabs.count()):
            if self.tabs.widget(i).widget() is panel:
                self.tabs.setCurrentIndex(i)
        if focus is not None:
            focus.setFocus()
            focus.selectAll()

    def update_reader_actions(self, *_args) -> None:
        """Impression actions checked/enabled as the state says (after a decision was refused, too)."""
        self.action_states.on_reader_changed()

    def update_readout(self, *_args) -> None:
        """Rewrite the status bar's cursor readout and window/level from the state."""
        r = readout_of(self.state)
        if r is None:
            self.readout_label.clear()
            self.level_width_label.clear()
            return
        index = ", ".join(f"{n} {v}" for n, v in zip("ijk", r.index_ijk))
        x, y, z = r.world_mm
        text = f"{index}   ({x:.1f}, {y:.1f}, {z:.1f}) mm   value {r.intensity:.4g}"
        if r.heatmap is not None:
            text += f"   heatmap {r.heatmap:.2f}" + ("" if r.inside_head else " (outside head)")
        reading = getattr(self, "reading", None)  # issue 29: the label under the cursor
        if reading is not None and reading.readout_text():
            text += f"   {reading.readout_text()}"
        self.readout_label.setText(text)
        level, width = self.state.window
        self.level_width_label.setText(f"W {width:.4g}  L {level:.4g}")

    def show_about(self) -> None:
        """Help > About: what the app is, the research-use notice, the weights folder and the audit log."""
        QMessageBox.about(
            self,
            f"About {APP_TITLE}",
            f"<b>{APP_TITLE}</b><br>A second reader for T2-weighted brain MRI of preterm infants: "
            "P(injury) from a 3D ResNet-10 with test-time augmentation, and a Grad-CAM heatmap.<br><br>"
            "Research use only; it does not diagnose and does not outline lesions.<br><br>"
            f"Weights folder: {self.weights_dir}<br>Audit log: {self.audit_path}",
        )


def _escape(text) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _dropped_files(mime) -> list:
    if mime is None or not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
