"""The main window: actions, menus, toolbar, status bar, and the jobs that open and analyse scans.

The window owns one :class:`ViewerState` (what is shown), the views that draw it
(:class:`OrthoView`, the side panels -- :class:`ResultPanel` with the :class:`ReaderPanel`,
:class:`ImagePanel`, :class:`HeaderPanel` -- and the status bar) and the actions that change it.
Every command is a QAction in a menu (Help > Keyboard shortcuts lists them from the menus);
buttons are bound to the same actions. Opening a scan, loading weights, analysing and writing the
PDF report run as generators from :mod:`viewer.jobs` in a :class:`viewer.worker.GeneratorWorker`,
so the GUI thread only receives finished objects and slices arrays. Errors reach the reader as one
line (a non-blocking message box plus the status bar); tracebacks go to the log.

The reader's decisions go to the audit log (:mod:`model.record.audit`) at
:attr:`MainWindow.audit_path`; settings persist through :class:`viewer.settings.Settings`.
Exports never overwrite a file without asking and start in the last export folder (or Documents),
never in the input's folder unless the reader picks it. A Batch menu can be added by
``viewer.batch_dialog.install_batch_menu(window)``: insert it before :attr:`MainWindow.help_menu`.
"""
from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import QUrl, Qt, pyqtSignal
from PyQt6.QtGui import QAction, QActionGroup, QDesktopServices, QGuiApplication, QIcon, QKeySequence
from PyQt6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QStyle,
    QTabWidget,
    QToolBar,
    QToolButton,
)

import model
from model.record.audit import AuditLogError, append_entry, decision_record, verify_chain
from model.checkpoint import read_card
from model.errors import GloResNetError
from model.fileio import atomic_output, save_nifti_atomic
from model.inference import select_device
from model.record.report import HEATMAP_COLORMAPS, card_facts
from model.volume import is_nifti_path
from viewer.batch_dialog import install_batch_menu
from viewer.display import LAYOUTS, PLANES, WINDOW_PRESET_TIPS, WINDOW_PRESETS
from viewer.export import HEATMAP_DESCRIPTION, build_report, default_export_name
from viewer.header_panel import HeaderPanel
from viewer.image_panel import ImagePanel
from viewer.info_panel import readout_of
from viewer.jobs import AnalysisOutcome, analysis_job_steps, load_model_steps, open_sample_steps, open_scan_steps, \
    report_job_steps
from viewer.ortho_view import OrthoView
from viewer.reader_panel import ReaderPanel
from viewer.result_panel import CANCELLED_TEXT, IDLE_TEXT, ResultPanel
from viewer.settings import Settings, default_export_folder, set_application_identity
from viewer.shortcuts import ShortcutsDialog
from viewer.slice_view import ZOOM_STEP
from viewer.state import ViewerState
from viewer.worker import GeneratorWorker

log = logging.getLogger(__name__)

APP_TITLE = "GloResNet second reader"
NIFTI_FILTER = "NIfTI volumes (*.nii *.nii.gz);;All files (*)"
#: How long closing the window waits for a running job to stop, ms.
CLOSE_WAIT_MS = 30_000
ICON_PATH = Path(__file__).resolve().parent.parent / "resources" / "icons" / "gloresnet.svg"
IMPRESSIONS_UI = {"normal": ("&Normal", "Alt+N"), "injury": ("&Injury", "Alt+I"), "unsure": ("&Unsure", "Alt+U")}
DECISIONS_UI = {
    "accept": ("&Accept AI result", "Ctrl+Alt+A", "Agree with the AI result"),
    "reject": ("&Reject AI result", "Ctrl+Alt+R", "Disregard the AI result (e.g. unreliable input)"),
    "override": ("&Override AI result…", "Ctrl+Alt+O", "Replace the AI's call with yours (normal or injury)"),
}
LAYOUT_SHORTCUTS = {"1x3": "Ctrl+1", "2x2": "Ctrl+2", "1x1": "Ctrl+3"}


class MainWindow(QMainWindow):
    """The second reader's window.

    Parameters
    ----------
    weights_dir : str or Path, optional
        Weights folder used by Analyse (default :data:`model.DEFAULT_WEIGHTS_DIR`).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (:func:`model.inference.select_device`).
    settings : viewer.settings.Settings, optional
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

    def __init__(self, weights_dir: str | Path | None = None, device: str = "auto",
                 settings: Settings | None = None, audit_path: str | Path | None = None, parent=None):
        super().__init__(parent)
        set_application_identity()
        self.settings = settings if settings is not None else Settings()
        self.audit_path = Path(audit_path) if audit_path is not None else self.settings.audit_log_path
        self.weights_dir = Path(weights_dir) if weights_dir is not None else model.DEFAULT_WEIGHTS_DIR
        self.device = select_device(device)
        self.state = ViewerState(self)
        self.last_error: str | None = None
        self.last_message_box: QMessageBox | None = None
        self._loaded_model = None  # LoadedModel reused between analyses (same folder and device)
        self._load_worker: GeneratorWorker | None = None
        self._model_worker: GeneratorWorker | None = None
        self._analysis_worker: GeneratorWorker | None = None
        self._workers: set = set()  # kept alive until their thread has finished

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
        self.tabs = QTabWidget()
        self.tabs.setObjectName("SideTabs")
        self.tabs.setDocumentMode(True)
        for widget, title in ((self.panel, "Result"), (self.image_panel, "Display"), (self.header_panel, "Scan")):
            scroll = QScrollArea()
            scroll.setWidget(widget)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QScrollArea.Shape.NoFrame)
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.tabs.addTab(scroll, title)
        self.tabs.setMinimumWidth(330)
        self.tabs.setMaximumWidth(460)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.ortho)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([1100, 380])
        self.setCentralWidget(self.splitter)

        self._make_actions()
        self._make_menus_and_toolbar()
        self.batch_action = install_batch_menu(self)  # Batch > Score folder… (Ctrl+B)
        self._make_status_bar()
        self.panel.set_actions(self.analyse_action, self.cancel_action)
        self.reader_panel.set_actions(self.impression_actions, self.decision_actions)
        self.ortho.info.set_copy_action(self.copy_location_action)
        self.image_panel.add_view_actions([
            [self.layout_actions["1x3"], self.layout_actions["2x2"], self.layout_actions["1x1"]],
            [self.zoom_in_action, self.zoom_out_action, self.reset_view_action],
            [self.goto_peak_action, self.crosshair_action, self.radiological_action],
        ])

        self.state.scan_changed.connect(self._on_scan_changed)
        self.state.cursor_changed.connect(self._update_readout)
        self.state.window_changed.connect(self._update_readout)
        self.state.radiological_changed.connect(self._on_radiological_changed)
        self.state.overlay_changed.connect(self._on_overlay_changed)
        self.state.result_changed.connect(self._on_result_changed)
        self.state.reader_changed.connect(self._on_reader_changed)
        self.state.layout_changed.connect(self._on_layout_changed)
        self.state.invert_changed.connect(self._on_invert_changed)
        self.restore_settings()
        self._on_radiological_changed(self.state.radiological)
        self._on_overlay_changed()
        self._on_layout_changed(self.state.layout, self.state.single_plane)
        self._on_scan_changed(self.state.scan)
        self._show_weights_folder(self.weights_dir)
        self._set_busy(False)

    # -- construction --------------------------------------------------------------------------
    def _action(self, text, slot=None, shortcut=None, tip=None, pixmap=None, checkable=False) -> QAction:
        """A QAction with its shortcut(s) (a key, a StandardKey or a list), tooltip and status tip."""
        a = QAction(text, self)
        if pixmap is not None:
            a.setIcon(self.style().standardIcon(pixmap))
        keys = []
        if shortcut is not None:
            for key in (shortcut if isinstance(shortcut, (list, tuple)) else [shortcut]):
                # a standard key's first binding is the platform's keyboard shortcut (the rest are media keys)
                keys += QKeySequence.keyBindings(key)[:1] if isinstance(key, QKeySequence.StandardKey) \
                    else [QKeySequence(key)]
            a.setShortcuts(keys)
        a.setCheckable(checkable)
        tip = tip or text.replace("&", "").rstrip(".…")
        if keys:
            tip += f" ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})"
        a.setToolTip(tip)
        a.setStatusTip(tip)
        if slot is not None:
            (a.toggled if checkable else a.triggered).connect(slot)
        return a

    def _make_actions(self) -> None:
        action = self._action
        SP = QStyle.StandardPixmap
        st = self.state

        # File
        self.open_action = action("&Open…", lambda: self.open_dialog(), QKeySequence.StandardKey.Open,
                                  "Open a T2 NIfTI volume", SP.SP_DialogOpenButton)
        self.sample_action = action("Open &sample", lambda: self.open_sample(), "Ctrl+Shift+O",
                                    "Open the simulated neonatal T2 sample", SP.SP_FileIcon)
        self.clear_recent_action = action("&Clear list", self._clear_recent)
        self.screenshot_action = action("&Screenshot of the views…", lambda: self.export_screenshot(), "Ctrl+Shift+S",
                                        "Save the plane views as a PNG image (full screen resolution)")
        self.screenshot_action.setIconText("Screenshot")
        self.report_action = action("PDF &report…", lambda: self.export_report(), "Ctrl+P",
                                    "Save a PDF report: scan facts, result, model card, your decision, key slices")
        self.report_action.setIconText("Report")
        self.heatmap_export_action = action("&Heatmap as NIfTI…", lambda: self.export_heatmap(), "Ctrl+Shift+E",
                                            "Save the Grad-CAM heatmap on the input's own grid and affine (unmasked)")
        self.quit_action = action("&Quit", self.close, "Ctrl+Q")

        # View
        self.radiological_action = action("&Radiological convention", st.set_radiological, "Ctrl+Shift+R",
                                          "Radiological: patient left on screen right (off: neurological)",
                                          checkable=True)
        self.radiological_action.setChecked(st.radiological)
        self.radiological_action.setIconText("Radiological")
        self.layout_group = QActionGroup(self)
        self.layout_actions = {}
        for key, text in LAYOUTS.items():
            a = action(text, None, LAYOUT_SHORTCUTS[key], checkable=True)
            a.triggered.connect(lambda _checked, k=key: self.set_layout(k))
            a.setIconText({"1x3": "1 × 3", "2x2": "2 × 2", "1x1": "1 plane"}[key])
            self.layout_group.addAction(a)
            self.layout_actions[key] = a
        self.layout_actions["1x1"].setToolTip(
            f"Maximise the active plane (the one last clicked); double click a plane does the same "
            f"({LAYOUT_SHORTCUTS['1x1']})")
        self.zoom_in_action = action("Zoom &in", lambda: self.ortho.active_view.zoom(ZOOM_STEP),
                                     ["Ctrl++", "Ctrl+=", "+", "="], "Zoom in the active plane (also Ctrl + wheel)")
        self.zoom_out_action = action("Zoom &out", lambda: self.ortho.active_view.zoom(1 / ZOOM_STEP),
                                      ["Ctrl+-", "-"], "Zoom out the active plane")
        self.reset_view_action = action("Reset &view", self.reset_views, "Ctrl+0",
                                        "Whole slices, no zoom or pan, in every plane")
        self.next_slice_action = action("&Next slice", lambda: self.ortho.active_view.step_slice(+1),
                                        ["PgUp", "Up", "Right"], "Next slice of the active plane (towards R, A or S)")
        self.prev_slice_action = action("&Previous slice", lambda: self.ortho.active_view.step_slice(-1),
                                        ["PgDown", "Down", "Left"], "Previous slice of the active plane")
        for a in (self.next_slice_action, self.prev_slice_action):
            # only while a plane has the keyboard focus: arrows keep working in the side panel's fields
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.ortho.addAction(a)
        self.crosshair_action = action("Show &crosshair", self._set_crosshair, "C",
                                       "Show the cursor lines in every plane", checkable=True)
        self.crosshair_action.setChecked(True)
        self.crosshair_action.setIconText("Crosshair")
        self.goto_peak_action = action("&Go to heatmap maximum", self.go_to_heatmap_peak, "Ctrl+M",
                                       "Move the cursor to the highest heatmap value inside the head")
        self.goto_peak_action.setIconText("Heatmap max")
        self.overlay_action = action("Show &heatmap", st.set_overlay_visible, "H",
                                     "Show the Grad-CAM heatmap over the scan", checkable=True)
        self.contours_action = action("Heatmap &contour lines", st.set_overlay_contours, "Shift+H",
                                      "Outline the heatmap at its threshold", checkable=True)
        self.colormap_group = QActionGroup(self)
        self.colormap_actions = {}
        for name in HEATMAP_COLORMAPS:
            a = action(name, None, None, f"Heatmap colormap {name} (perceptually uniform)", checkable=True)
            a.triggered.connect(lambda _c, n=name: st.set_overlay_colormap(n))
            self.colormap_group.addAction(a)
            self.colormap_actions[name] = a
        self.opacity_up_action = action("More opaque heatmap", lambda: st.set_overlay_opacity(st.overlay_opacity + 0.1),
                                        "]", "Heatmap opacity +10 %")
        self.opacity_down_action = action("More transparent heatmap",
                                          lambda: st.set_overlay_opacity(st.overlay_opacity - 0.1), "[",
                                          "Heatmap opacity −10 %")
        self.threshold_up_action = action("Raise heatmap threshold",
                                          lambda: st.set_overlay_threshold(round(st.overlay_threshold + 0.05, 2)), "}",
                                          "Hide more of the low heatmap values (+0.05)")
        self.threshold_down_action = action("Lower heatmap threshold",
                                            lambda: st.set_overlay_threshold(round(st.overlay_threshold - 0.05, 2)), "{",
                                            "Show more of the low heatmap values (−0.05)")
        self.window_entry_action = action("Set window / level…", lambda: self._show_tab(self.image_panel,
                                                                                        self.image_panel.level_spin),
                                          "Ctrl+Shift+W", "Type the window centre and width (Display tab)")
        self.header_action = action("Scan &header and quality…", lambda: self._show_tab(self.header_panel), "Ctrl+I",
                                    "File path, shape, voxel size, orientation, data type, qform/sform, SHA-256, "
                                    "quality warnings (Scan tab)")

        # Window / level
        self.reset_window_action = action("&Automatic window (1–99 %)", st.reset_window, "Ctrl+Shift+L",
                                          "Back to the automatic window (1st-99th percentile)")
        self.reset_window_action.setToolTip(WINDOW_PRESET_TIPS["auto"] + " (Ctrl+Shift+L)")
        self.reset_window_action.setIconText("Auto window")
        self.full_range_action = action("&Full range", lambda: st.apply_window_preset("full"), "Ctrl+Shift+F",
                                        WINDOW_PRESET_TIPS["full"])
        self.neonatal_action = action(f"&{WINDOW_PRESETS['neonatal_t2']}", lambda: st.apply_window_preset("neonatal_t2"),
                                      "Ctrl+Shift+B", WINDOW_PRESET_TIPS["neonatal_t2"])
        self.invert_action = action("&Invert greyscale", st.set_invert, "I", "Black for bright, white for dark",
                                    checkable=True)

        # Analysis and model
        self.analyse_action = action("&Analyse", lambda: self.start_analysis(), "Ctrl+R",
                                     "Estimate P(injury) and the Grad-CAM heatmap for this scan", SP.SP_MediaPlay)
        self.cancel_action = action("&Cancel", lambda: self.cancel_analysis(), "Esc",
                                    "Stop the running analysis", SP.SP_MediaStop)
        self.load_weights_action = action("&Load weights…", lambda: self.load_weights_dialog(), "Ctrl+L",
                                          "Use another weights folder (model.safetensors + model_card.json)")
        self.model_card_action = action("Model &card…", self.show_model_card, None,
                                        "What the current model is, was trained on and is for")

        # Reader
        self.impression_group = QActionGroup(self)
        self.impression_actions = {}
        for key, (text, keys) in IMPRESSIONS_UI.items():
            a = action(text, None, keys, f"Record your impression: {key}", checkable=True)
            a.triggered.connect(lambda _checked, k=key: self.record_impression(k))
            self.impression_group.addAction(a)
            self.impression_actions[key] = a
        self.decision_actions = {}
        for key, (text, keys, tip) in DECISIONS_UI.items():
            self.decision_actions[key] = action(text, lambda _c=False, k=key: self.record_decision(k), keys, tip)
            self.decision_actions[key].setIconText(text.replace("&", "").replace(" AI result", ""))  # buttons
        self.reader_first_action = action("Reader-&first mode", self.set_reader_first, None,
                                          "Hide the AI result until you have recorded your impression",
                                          checkable=True)
        self.reader_name_action = action("Reader &name…", lambda: self.ask_reader_name(), None,
                                         "Your name, recorded with every decision")

        # Tools and help
        self.copy_location_action = action("Copy &location", self.copy_location, "Ctrl+Shift+C",
                                           "Copy the cursor's voxel, world position and values as text")
        self.verify_audit_action = action("&Verify audit log", lambda: self.verify_audit_log(), "Ctrl+Shift+V",
                                          "Check the audit log's hash chain and say where it breaks")
        self.show_audit_action = action("Show audit log &folder", self._show_audit_folder)
        self.shortcuts_action = action("&Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self.about_action = action("&About", self._about)

    def _make_menus_and_toolbar(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.open_action])
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        file_menu.addAction(self.sample_action)
        file_menu.addSeparator()
        export_menu = file_menu.addMenu("&Export")
        export_menu.addActions([self.screenshot_action, self.report_action, self.heatmap_export_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        view_menu = bar.addMenu("&View")
        layout_menu = view_menu.addMenu("&Layout")
        layout_menu.addActions(list(self.layout_actions.values()))
        view_menu.addActions([self.zoom_in_action, self.zoom_out_action, self.reset_view_action])
        view_menu.addSeparator()
        view_menu.addActions([self.next_slice_action, self.prev_slice_action, self.goto_peak_action])
        view_menu.addSeparator()
        window_menu = view_menu.addMenu("&Window / level")
        window_menu.addActions([self.reset_window_action, self.full_range_action, self.neonatal_action])
        window_menu.addSeparator()
        window_menu.addActions([self.invert_action, self.window_entry_action])
        heatmap_menu = view_menu.addMenu("&Heatmap")
        heatmap_menu.addActions([self.overlay_action, self.contours_action])
        colormap_menu = heatmap_menu.addMenu("&Colormap")
        colormap_menu.addActions(list(self.colormap_actions.values()))
        heatmap_menu.addSeparator()
        heatmap_menu.addActions([self.opacity_up_action, self.opacity_down_action, self.threshold_up_action,
                                 self.threshold_down_action])
        view_menu.addSeparator()
        view_menu.addActions([self.radiological_action, self.crosshair_action, self.header_action])

        analysis_menu = bar.addMenu("&Analysis")
        analysis_menu.addActions([self.analyse_action, self.cancel_action])
        model_menu = bar.addMenu("&Model")
        model_menu.addActions([self.load_weights_action, self.model_card_action])

        reader_menu = bar.addMenu("&Reader")
        reader_menu.addActions(list(self.impression_actions.values()))
        reader_menu.addSeparator()
        reader_menu.addActions(list(self.decision_actions.values()))
        reader_menu.addSeparator()
        reader_menu.addActions([self.reader_first_action, self.reader_name_action])

        self.tools_menu = bar.addMenu("&Tools")
        self.tools_menu.addActions([self.copy_location_action])
        self.tools_menu.addSeparator()
        self.tools_menu.addActions([self.verify_audit_action, self.show_audit_action])
        # (the Batch menu is inserted here, before Help, by viewer.batch_dialog.install_batch_menu)
        self.help_menu = bar.addMenu("&Help")
        self.help_menu.addActions([self.shortcuts_action, self.about_action])

        self.toolbar = QToolBar("Main")
        self.toolbar.setObjectName("MainToolBar")
        self.toolbar.setMovable(False)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.addActions([self.open_action, self.sample_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.analyse_action, self.cancel_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.radiological_action, self.overlay_action, self.reset_window_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.screenshot_action, self.report_action])
        self.toolbar.widgetForAction(self.analyse_action).setObjectName("AnalyseButton")  # styled as the main action
        self.addToolBar(self.toolbar)

    def _make_status_bar(self) -> None:
        sb = self.statusBar()
        self.readout_label = QLabel()
        self.readout_label.setMinimumWidth(360)
        self.copy_button = QToolButton()
        self.copy_button.setDefaultAction(self.copy_location_action)
        self.copy_button.setAutoRaise(True)
        self.window_label = QLabel()
        self.window_label.setMinimumWidth(130)
        self.convention_status = QLabel()
        self.convention_status.setObjectName("ConventionStatus")
        self.model_label = QLabel()
        self.model_label.setObjectName("ModelLabel")
        self.device_label = QLabel(f"Device: {self.device}")
        for w in (self.readout_label, self.copy_button, self.window_label, self.convention_status, self.model_label,
                  self.device_label):
            sb.addPermanentWidget(w)

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
        start = self.settings.last_open_folder
        if not start and self.state.volume is not None and self.state.volume.path:
            start = str(self.state.volume.path.parent)
        path, _ = QFileDialog.getOpenFileName(self, "Open a T2 NIfTI volume", start, NIFTI_FILTER)
        if path:
            self.open_path(path)

    def _fill_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        files = self.settings.recent_files()
        for n, path in enumerate(files, start=1):
            a = menu.addAction(f"&{n % 10}  {Path(path).name}")
            a.setToolTip(path)
            a.setStatusTip(path)
            a.setData(path)
            a.triggered.connect(lambda _c=False, p=path: self.open_path(p))
        if not files:
            empty = menu.addAction("(no recent files)")
            empty.setEnabled(False)
        menu.addSeparator()
        menu.addAction(self.clear_recent_action)
        self.clear_recent_action.setEnabled(bool(files))

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._fill_recent_menu()

    def open_path(self, path: str | Path) -> GeneratorWorker:
        """Open a NIfTI file in the background; ``scan_loaded`` or ``scan_failed`` follows."""
        path = Path(path)
        return self._start_load(lambda: open_scan_steps(path), f"open {path.name}")

    def open_sample(self) -> GeneratorWorker:
        """Open the simulated sample (``model.simulation.phantom.sample_image``) in the background."""
        return self._start_load(open_sample_steps, "open sample")

    def _start_load(self, make_generator, name: str) -> GeneratorWorker:
        if self._load_worker is not None:
            self._load_worker.cancel()  # the newer request wins
        worker = GeneratorWorker(make_generator, name=name)
        worker.progressed.connect(lambda f, m: self.statusBar().showMessage(m))
        worker.returned.connect(lambda scan: self._on_scan_loaded(worker, scan))
        worker.failed.connect(lambda msg: self._on_scan_failed(worker, msg))
        worker.cancelled.connect(lambda: self.statusBar().clearMessage())
        self._load_worker = worker
        self._launch(worker)
        return worker

    def _on_scan_loaded(self, worker: GeneratorWorker, scan) -> None:
        if worker is not self._load_worker:
            return
        self._load_worker = None
        if self._analysis_worker is not None:
            self._analysis_worker.cancel()  # its result would belong to the previous scan
        self.state.set_scan(scan)
        path = scan.volume.path
        if path is not None:
            self.settings.add_recent_file(path)
            self.settings.last_open_folder = str(Path(path).absolute().parent)
            self._fill_recent_menu()
        self.statusBar().showMessage(f"Opened {scan.name}", 5000)
        self.ortho.active_view.setFocus()
        self.scan_loaded.emit(scan)

    def _on_scan_failed(self, worker: GeneratorWorker, message: str) -> None:
        if worker is not self._load_worker:
            return
        self._load_worker = None
        self.show_error("Cannot open scan", message)
        self.scan_failed.emit(message)

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
    @property
    def busy(self) -> bool:
        """True while an analysis runs (until its thread reported the end)."""
        return self._analysis_worker is not None

    def start_analysis(self) -> GeneratorWorker | None:
        """Analyse the shown scan in the background (does nothing while one runs)."""
        if self._analysis_worker is not None:
            return None
        volume = self.state.volume
        if volume is None:
            self.show_error("Nothing to analyse", "Open a scan first (File > Open, Ctrl+O).")
            return None
        loaded = self._loaded_model
        if loaded is not None and (Path(loaded.folder) != self.weights_dir):
            loaded = None
        weights_dir, device = self.weights_dir, self.device
        worker = GeneratorWorker(lambda: analysis_job_steps(volume, weights_dir, device, loaded), name="analysis")
        worker.volume = volume
        worker.progressed.connect(self.panel.show_progress)
        worker.returned.connect(lambda outcome: self._on_analysis_returned(worker, outcome))
        worker.failed.connect(lambda msg: self._on_analysis_failed(worker, msg))
        worker.cancelled.connect(lambda: self._on_analysis_cancelled(worker))
        self._analysis_worker = worker
        self.state.clear_result()
        self.panel.show_message("Analysing…")
        self.panel.show_progress(0.0, "Starting")
        self._set_busy(True)
        self._launch(worker)
        return worker

    def cancel_analysis(self) -> None:
        """Ask the running analysis to stop; the panel says so once it has."""
        worker = self._analysis_worker
        if worker is None or worker.cancel_requested:
            return
        worker.cancel()
        self.cancel_action.setEnabled(False)
        self.panel.show_progress(self.panel.progress_bar.value() / 100.0, "Cancelling…")

    def _on_analysis_returned(self, worker: GeneratorWorker, outcome: AnalysisOutcome) -> None:
        self._end_analysis(worker)
        if self._loaded_model is None or Path(self._loaded_model.folder) == Path(outcome.loaded.folder):
            self._loaded_model = outcome.loaded
            self._show_model(outcome.loaded.card)
        if outcome.volume is not self.state.volume:
            return  # another scan was opened meanwhile
        self.state.set_result(outcome.result, outcome.loaded.card)
        self.statusBar().showMessage(
            f"Analysis done in {outcome.result.timings_s.get('total', float('nan')):.1f} s on {outcome.result.device}", 5000
        )
        self.analysis_finished.emit(outcome.result)

    def _on_analysis_failed(self, worker: GeneratorWorker, message: str) -> None:
        self._end_analysis(worker)
        self.panel.show_message(f"Analysis failed: {message}")
        self.show_error("Analysis failed", message)
        self.analysis_stopped.emit("failed")

    def _on_analysis_cancelled(self, worker: GeneratorWorker) -> None:
        self._end_analysis(worker)
        if worker.volume is self.state.volume:
            self.panel.show_message(CANCELLED_TEXT)
            self.statusBar().showMessage(CANCELLED_TEXT, 5000)
        self.analysis_stopped.emit("cancelled")

    def _end_analysis(self, worker: GeneratorWorker) -> None:
        if worker is self._analysis_worker:
            self._analysis_worker = None
        self.panel.hide_progress()
        self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        has_scan = self.state.volume is not None
        self.analyse_action.setEnabled(not busy and has_scan)
        self.cancel_action.setEnabled(busy)
        self.busy_changed.emit(busy)

    # -- workers ---------------------------------------------------------------------------------
    def _launch(self, worker: GeneratorWorker) -> None:
        self._workers.add(worker)
        worker.finished.connect(lambda: (worker.wait(), self._workers.discard(worker)))
        worker.start()

    def closeEvent(self, ev):  # noqa: N802 - Qt hook
        self.save_window_settings()
        for worker in list(self._workers):
            worker.cancel()
        for worker in list(self._workers):
            if not worker.wait(CLOSE_WAIT_MS):
                log.error("%s did not stop within %d ms", worker.objectName(), CLOSE_WAIT_MS)
        super().closeEvent(ev)

    # -- errors ----------------------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """Tell the reader in one line (non-blocking message box + status bar); never a traceback."""
        message = message.strip().splitlines()[0] if message.strip() else title
        self.last_error = message
        log.info("%s: %s", title, message)
        self.statusBar().showMessage(message, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("ErrorBox")
        box.open()

    # -- model -------------------------------------------------------------------------------------
    def load_weights_dialog(self) -> None:
        start = str(self.weights_dir.parent if self.weights_dir.exists() else Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose a weights folder (model.safetensors + model_card.json)",
                                                  start)
        if folder:
            self.load_weights(folder)

    def load_weights(self, folder: str | Path) -> GeneratorWorker:
        """Load a weights folder in the background; ``model_loaded`` or ``model_failed`` follows.

        On success it becomes the model of the next analysis (the shown result keeps its own model's
        name). A mismatch (card, hash, tensors) is reported as the checkpoint's one-line reason.
        """
        folder = Path(folder)
        device = self.device
        worker = GeneratorWorker(lambda: load_model_steps(folder, device), name=f"load weights {folder.name}")
        worker.progressed.connect(lambda f, m: self.statusBar().showMessage(m))
        worker.returned.connect(lambda loaded: self._on_model_loaded(worker, loaded))
        worker.failed.connect(lambda msg: self._on_model_failed(worker, msg))
        self._model_worker = worker
        self._launch(worker)
        return worker

    def _on_model_loaded(self, worker, loaded) -> None:
        if worker is not self._model_worker:
            return
        self._model_worker = None
        self.weights_dir = Path(loaded.folder)
        self._loaded_model = loaded
        self._show_model(loaded.card)
        self.statusBar().showMessage(f"Model {loaded.card.name} v{loaded.card.version} loaded from {self.weights_dir}",
                                     8000)
        self.model_loaded.emit(loaded)

    def _on_model_failed(self, worker, message: str) -> None:
        if worker is not self._model_worker:
            return
        self._model_worker = None
        self.show_error("Cannot load these weights", message)
        self.model_failed.emit(message)

    def _show_weights_folder(self, folder: Path) -> None:
        """Say which model Analyse will use, from the card alone (the weights load on first use)."""
        try:
            card = read_card(folder)
        except GloResNetError as exc:
            self.model_label.setText("Model: <span style='color:#ff8a65'>none</span>")
            self.model_label.setToolTip(f"{exc}\nModel > Load weights to choose a weights folder.")
            return
        self._show_model(card)

    def _show_model(self, card) -> None:
        demo = " (demo)" if card.demonstration else ""
        self.model_label.setText(f"Model: <b>{card.name}</b> v{card.version}{demo} · {card.weights_sha256[:12]}")
        self.model_label.setToolTip(f"{self.weights_dir}\nweights SHA-256 {card.weights_sha256}")
        self._current_card = card

    _current_card = None

    def show_model_card(self) -> None:
        card = self._current_card
        if card is None:
            self.show_error("No model", "No model card is available; Model > Load weights to choose a weights folder.")
            return
        rows = "".join(f"<tr><td style='color:#9e9e9e; padding-right:10px'>{_escape(k)}</td><td>{_escape(v)}</td></tr>"
                       for k, v in card_facts(card))
        self._message(QMessageBox.Icon.Information, "Model card", f"<table>{rows}</table>")

    # -- view ----------------------------------------------------------------------------------------
    def set_layout(self, layout: str) -> None:
        """Switch the plane layout; the one-plane layout maximises the active plane."""
        self.state.set_layout(layout, self.ortho.active_plane if layout == "1x1" else None)

    def reset_views(self) -> None:
        for view in self.ortho.views.values():
            view.reset_view()

    def _set_crosshair(self, on: bool) -> None:
        for view in self.ortho.views.values():
            view.set_crosshair_visible(on)

    def go_to_heatmap_peak(self) -> None:
        """Move the cursor to the heatmap maximum inside the head (when the result is shown)."""
        if not self.state.result_visible or self.state.heatmap_peak is None:
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

    # -- reader workflow ---------------------------------------------------------------------------
    def set_reader_first(self, on: bool) -> None:
        self.state.set_reader_first(on)
        self.settings.reader_first = on

    def ask_reader_name(self) -> str:
        """Ask for the reader's name (stored in the settings); returns it ('' when cancelled)."""
        name, ok = QInputDialog.getText(self, "Reader name", "Your name, recorded with every decision:",
                                        text=self.settings.reader_name)
        if ok and name.strip():
            self.settings.reader_name = name.strip()
            return name.strip()
        return ""

    def _reader_name(self) -> str:
        return self.settings.reader_name or self.ask_reader_name()

    def record_impression(self, impression: str) -> dict | None:
        """Record the reader's impression (audit log first; in reader-first mode it reveals the AI result)."""
        if self.state.volume is None:
            self.show_error("No scan", "Open a scan before recording an impression.")
            self._on_reader_changed()
            return None
        entry = self._append_audit("impression", impression=impression)
        if entry is None:
            self._on_reader_changed()  # un-check the button: nothing was recorded
            return None
        self.state.set_impression(impression)
        self.state.set_last_decision(entry)
        return entry

    def record_decision(self, decision: str, reason: str | None = None, override_call: str | None = None) -> dict | None:
        """Accept, reject or override the shown AI result; appends an audit entry and returns it.

        ``reason`` defaults to the reader panel's text (cleared after recording). An override
        without ``override_call`` asks the reader for their call.
        """
        if not self.state.result_visible:
            self.show_error("No AI result", "There is no AI result shown to accept, reject or override.")
            return None
        if decision == "override" and override_call is None:
            override_call = self._ask_override_call()
            if override_call is None:
                return None
        if reason is None:
            reason = self.reader_panel.reason_edit.text()
        entry = self._append_audit(decision, reason=reason, override_call=override_call)
        if entry is not None:
            self.reader_panel.reason_edit.clear()
            self.state.set_last_decision(entry)
            self.statusBar().showMessage(f"Recorded: {decision} (audit entry #{entry['seq']})", 8000)
        return entry

    def _ask_override_call(self) -> str | None:
        result = self.state.result
        options = ["injury", "normal"] if result.probability < result.threshold else ["normal", "injury"]
        call, ok = QInputDialog.getItem(self, "Override the AI result", "Your call for this scan:", options, 0, False)
        return call if ok else None

    def _append_audit(self, decision: str, *, impression: str | None = None, reason: str = "",
                      override_call: str | None = None) -> dict | None:
        st = self.state
        reader = self._reader_name()
        if not reader:
            self.show_error("No reader name", "Decisions are recorded with your name: Reader > Reader name.")
            return None
        result = st.result
        try:
            record = decision_record(
                decision=decision, reader=reader, input_sha256=st.volume.sha256,
                model_name=None if result is None else result.model_name,
                model_version=None if result is None else result.model_version,
                weights_sha256=None if result is None else result.weights_sha256,
                probability=None if result is None else result.probability,
                threshold=None if result is None else result.threshold,
                flag=None if result is None else result.flag,
                impression=impression if impression is not None else st.impression,
                reason=reason, override_call=override_call, ai_shown=st.result_visible,
                # out-of-distribution verdict (model.ood)
                in_distribution=None if result is None else result.in_distribution,
                ood_reasons=None if result is None or result.ood is None else result.ood.reasons,
            )
            entry = append_entry(self.audit_path, record)
        except (AuditLogError, ValueError) as exc:
            self.show_error("Cannot record the decision", str(exc))
            return None
        self.decision_recorded.emit(entry)
        return entry

    def verify_audit_log(self):
        """Tools > Verify audit log: check the chain, say where it breaks. Returns the ChainReport (or None)."""
        try:
            report = verify_chain(self.audit_path)
        except AuditLogError as exc:
            self.show_error("Cannot read the audit log", str(exc))
            return None
        icon = QMessageBox.Icon.Information if report.ok else QMessageBox.Icon.Critical
        self._message(icon, "Audit log", f"{report.message()}\n\n{self.audit_path}")
        self.statusBar().showMessage(report.message(), 10000)
        return report

    def _show_audit_folder(self) -> None:
        folder = self.audit_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # -- exports -------------------------------------------------------------------------------------
    def _export_target(self, path, title: str, kind: str, file_filter: str) -> Path | None:
        """The path to write: ``path`` or one the reader chooses; None when cancelled or not to overwrite.

        The dialog starts in the last export folder (or Documents / home), never in the input's folder
        unless the reader picked it before; an existing file is replaced only after asking.
        """
        if path is None:
            start = Path(self.settings.last_export_folder or default_export_folder())
            if not start.is_dir():
                start = default_export_folder()
            name = default_export_name(self.state.scan.name, kind)
            chosen, _ = QFileDialog.getSaveFileName(self, title, str(start / name), file_filter,
                                                    options=QFileDialog.Option.DontConfirmOverwrite)
            if not chosen:
                return None
            path = Path(chosen)
            suffix = "." + kind.split(".", 1)[1]
            if not path.name.lower().endswith(suffix):
                path = path.with_name(path.name + suffix)
        path = Path(path)
        if path.exists() and not self.confirm_overwrite(path):
            return None
        self.settings.last_export_folder = str(path.absolute().parent)
        return path

    def confirm_overwrite(self, path: Path) -> bool:
        """Ask before replacing ``path`` (modal question; tests replace this method)."""
        answer = QMessageBox.question(self, "Replace file?", f"{path.name} already exists in {path.parent}.\n"
                                      "Replace it?", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def export_screenshot(self, path: str | Path | None = None) -> Path | None:
        """Save the plane views as PNG at the screen's full resolution (device pixel ratio); returns the path."""
        if self.state.scan is None:
            self.show_error("Nothing to export", "Open a scan first.")
            return None
        path = self._export_target(path, "Save a screenshot of the views", "views.png", "PNG images (*.png)")
        if path is None:
            return None
        pixmap = self.ortho.grab()  # device pixels: on a high-DPI screen the image has the screen's resolution

        def write(target: Path) -> None:
            with atomic_output(target) as tmp:
                if not pixmap.save(str(tmp), "PNG"):
                    raise OSError("the image could not be encoded")

        return self._write_export(path, write, "screenshot")

    def _write_export(self, path: Path, write, what: str, note: str = "") -> Path | None:
        """Run ``write(path)``; report an OSError in one line, or say where the file went."""
        try:
            write(path)
        except OSError as exc:
            self.show_error(f"Cannot save the {what}", f"{path}: {exc.strerror or exc}")
            return None
        self.statusBar().showMessage(f"Saved {path}{note}", 8000)
        self.export_written.emit(str(path))
        return path

    def export_heatmap(self, path: str | Path | None = None) -> Path | None:
        """Save the heatmap as NIfTI on the input's own grid and affine (not masked); returns the path."""
        result = self.state.result
        if not self.state.result_visible or result.heatmap is None:
            self.show_error("Nothing to export", "There is no heatmap shown to export; analyse the scan first.")
            return None
        path = self._export_target(path, "Save the heatmap as NIfTI", "heatmap.nii.gz", "NIfTI (*.nii.gz *.nii)")
        if path is None:
            return None
        image = self.state.volume.source_image(result.heatmap)
        image.header["descrip"] = HEATMAP_DESCRIPTION.encode("ascii")[:80]
        return self._write_export(path, lambda target: save_nifti_atomic(image, target), "heatmap",
                                  " (heatmap on the input's grid, not masked to the head)")

    def export_report(self, path: str | Path | None = None) -> GeneratorWorker | None:
        """Write the PDF report in the background; ``export_written`` or an error follows."""
        st = self.state
        if not st.result_visible or st.result.heatmap is None:
            self.show_error("Nothing to report", "Analyse the scan (and record your impression in reader-first mode) first.")
            return None
        path = self._export_target(path, "Save the PDF report", "report.pdf", "PDF (*.pdf)")
        if path is None:
            return None
        report = build_report(
            st.scan, st.result, st.result_card, radiological=st.radiological, window=st.window, invert=st.invert,
            colormap=st.overlay_colormap, threshold=st.overlay_threshold, opacity=max(st.overlay_opacity, 0.3),
            reader_name=self.settings.reader_name, impression=st.impression, decision=st.last_decision,
            peak_ijk=st.heatmap_peak,
        )
        worker = GeneratorWorker(lambda: report_job_steps(path, report), name="report")
        worker.returned.connect(lambda pages: self._on_report_written(path, pages))
        worker.failed.connect(lambda msg: self.show_error("Cannot write the report", msg))
        self.statusBar().showMessage(f"Writing {path.name}…")
        self._launch(worker)
        return worker

    def _on_report_written(self, path: Path, pages: int) -> None:
        self.statusBar().showMessage(f"Saved {path} ({pages} pages)", 8000)
        self.export_written.emit(str(path))

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
        for a in (self.screenshot_action, self.copy_location_action, self.reset_view_action, self.zoom_in_action,
                  self.zoom_out_action, self.next_slice_action, self.prev_slice_action, self.full_range_action,
                  self.neonatal_action, self.reset_window_action):
            a.setEnabled(has_scan)
        self._set_busy(self.busy)
        self._update_readout()
        self._on_reader_changed()

    def _on_radiological_changed(self, radiological: bool) -> None:
        self.radiological_action.blockSignals(True)
        self.radiological_action.setChecked(radiological)
        self.radiological_action.blockSignals(False)
        self.convention_status.setText("<b>Radiological</b>" if radiological else "<b>Neurological</b>")
        self.settings.radiological = radiological

    def _show_tab(self, panel, focus=None) -> None:
        """Bring the side panel's tab holding ``panel`` to the front (and focus ``focus``)."""
        for i in range(self.tabs.count()):
            if self.tabs.widget(i).widget() is panel:
                self.tabs.setCurrentIndex(i)
        if focus is not None:
            focus.setFocus()
            focus.selectAll()

    def _on_overlay_changed(self) -> None:
        st = self.state
        for a, on in ((self.overlay_action, st.overlay_visible), (self.contours_action, st.overlay_contours),
                      (self.colormap_actions[st.overlay_colormap], True)):
            a.blockSignals(True)
            a.setChecked(on)
            a.blockSignals(False)
        self.settings.save_overlay(st.overlay_visible, st.overlay_opacity, st.overlay_colormap, st.overlay_threshold,
                                   st.overlay_contours)

    def _on_invert_changed(self, invert: bool) -> None:
        self.invert_action.blockSignals(True)
        self.invert_action.setChecked(invert)
        self.invert_action.blockSignals(False)

    def _on_layout_changed(self, layout: str, plane: str) -> None:
        self.layout_actions[layout].setChecked(True)
        self.settings.layout = (layout, plane)

    def _on_result_changed(self, *_args) -> None:
        st = self.state
        result = st.result
        shown = st.result_visible
        has_heatmap = shown and result.heatmap is not None
        for a in (self.overlay_action, self.contours_action, self.goto_peak_action, self.heatmap_export_action,
                  self.report_action, self.opacity_up_action, self.opacity_down_action, self.threshold_up_action,
                  self.threshold_down_action, *self.colormap_actions.values()):
            a.setEnabled(has_heatmap)
        for a in self.decision_actions.values():
            a.setEnabled(shown)
        if result is not None:
            self.device_label.setText(f"Device: {result.device}")
        self._update_readout()

    def _on_reader_changed(self) -> None:
        st = self.state
        self.reader_first_action.blockSignals(True)
        self.reader_first_action.setChecked(st.reader_first)
        self.reader_first_action.blockSignals(False)
        for key, a in self.impression_actions.items():
            a.setEnabled(st.volume is not None)
            a.setChecked(st.impression == key)
        self._on_result_changed()

    def _update_readout(self, *_args) -> None:
        r = readout_of(self.state)
        if r is None:
            self.readout_label.clear()
            self.window_label.clear()
            return
        index = ", ".join(f"{n} {v}" for n, v in zip("ijk", r.index_ijk))
        x, y, z = r.world_mm
        text = f"{index}   ({x:.1f}, {y:.1f}, {z:.1f}) mm   value {r.intensity:.4g}"
        if r.heatmap is not None:
            text += f"   heatmap {r.heatmap:.2f}" + ("" if r.inside_head else " (outside head)")
        self.readout_label.setText(text)
        level, width = self.state.window
        self.window_label.setText(f"W {width:.4g}  L {level:.4g}")

    def _message(self, icon, title: str, text: str) -> QMessageBox:
        """A non-blocking message box (kept in ``last_message_box`` for tests)."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.last_message_box = box
        return box

    def _about(self) -> None:
        QMessageBox.about(
            self, f"About {APP_TITLE}",
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
