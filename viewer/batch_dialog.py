"""Batch > Score folder: a folder of scans becomes a sortable, filterable worklist.

The dialog only wraps :func:`model.score.score_steps` (discovery, loading, scoring, resume and the
failure reasons all live in :mod:`model.score`). :func:`batch_steps` adapts that generator to
:class:`viewer.worker.GeneratorWorker`: it loads the weights in the worker thread, forwards every
:class:`model.score.ScoreEvent` through :attr:`BatchWorker.case_done` (a queued signal, so rows reach
the table in the GUI thread) and yields :class:`model.inference.Progress` between cases, which is
where Cancel takes effect: the case being scored finishes and is kept, nothing after it starts.

Each folder's worklist is cached in the application's data folder
(``<AppDataLocation>/worklists/<sha256 of the absolute folder path>.csv``, written atomically with
:func:`model.score.write_worklist`) and passed back as ``previous=`` on the next run, so cases whose
input and weights are unchanged are skipped.

:func:`install_batch_menu` adds the Batch menu to a :class:`viewer.main_window.MainWindow`.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from PyQt6.QtCore import (
    QEvent,
    QModelIndex,
    QStandardPaths,
    Qt,
    pyqtSignal,
)
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
)

from model.bids import discover, is_bids
from model.score import (
    ScoreEvent,
    heatmaps_folder_problem,
    merge_worklist,
    read_worklist,
    write_worklist,
)
from viewer.batch_jobs import WEIGHTS_LOADED, BatchRun, BatchWorker, batch_steps, cache_path, worklist_cache_dir
from viewer.feedback import confirm_overwrite
from viewer.worklist_model import (  # noqa: F401 - SORT_ROLE re-exported for callers of the dialog module
    FAILED,
    FLAG_FILTERS,
    QUEUED,
    SCORED,
    SCORING,
    SKIPPED,
    SORT_ROLE,
    STATUS_COLOURS,
    ElideMiddleDelegate,
    WorklistModel,
    WorklistProxy,
    format_eta,
)

log = logging.getLogger(__name__)

#: How often the cache is written while a run goes on, s (and always at the end and on cancel).
CACHE_SAVE_INTERVAL_S = 10.0
#: How long closing the main window waits for a running batch to stop, ms.
CLOSE_WAIT_MS = 30_000

# -- the dialog --------------------------------------------------------------------------------
class BatchDialog(QDialog):
    """Score every scan of a folder with the window's weights; work through the worklist.

    Parameters
    ----------
    window : viewer.main_window.MainWindow
        Gives ``weights_dir`` and ``device``; double-clicked rows open there and are analysed.
    cache_dir : str or Path, optional
        Folder of the cached worklists (default :func:`worklist_cache_dir`).

    Signals
    -------
    run_finished(str)
        ``"done"``, ``"cancelled"`` or ``"failed"``, after the table and the cache are updated.
    """

    run_finished = pyqtSignal(str)

    def __init__(self, window, cache_dir: str | Path | None = None):
        super().__init__(window)
        self.window_ = window
        self.cache_dir = Path(cache_dir) if cache_dir is not None else worklist_cache_dir()
        self.folder: Path | None = None
        self.cams_dir: Path | None = None
        self.worker: BatchWorker | None = None
        self.run: BatchRun | None = None
        self._counts = {SCORED: 0, SKIPPED: 0, FAILED: 0}
        self._last_save = 0.0
        self._pending_open: Path | None = None

        self.setWindowTitle("Batch scoring")
        self.setModal(False)
        self.setSizeGripEnabled(True)
        self.resize(1280, 640)
        self._build()
        self._set_running(False)
        window.installEventFilter(self)  # stop the batch when the main window closes
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        self.folder_edit = QLineEdit()
        self.folder_edit.setReadOnly(True)
        self.folder_edit.setPlaceholderText("Choose a folder of .nii / .nii.gz scans (searched recursively)")
        self.folder_button = QPushButton("Choose folder…")
        self.folder_button.clicked.connect(self.choose_folder)
        grid.addWidget(QLabel("Scans folder:"), 0, 0)
        grid.addWidget(self.folder_edit, 0, 1)
        grid.addWidget(self.folder_button, 0, 2)

        self.bids_check = QCheckBox("BIDS: only *_T2w files")
        self.bids_check.setToolTip("Keep only sub-*/[ses-*/]anat/*_T2w.nii[.gz], outside derivatives/ and sourcedata/")
        self.bids_check.toggled.connect(lambda _on: self._rediscover())
        self.found_label = QLabel()
        self.found_label.setObjectName("FoundLabel")
        found_row = QHBoxLayout()
        found_row.addWidget(self.bids_check)
        found_row.addSpacing(16)
        found_row.addWidget(self.found_label, 1)
        grid.addLayout(found_row, 1, 1, 1, 2)

        self.cams_edit = QLineEdit()
        self.cams_edit.setReadOnly(True)
        self.cams_edit.setPlaceholderText("Not written (optional)")
        self.cams_button = QPushButton("Choose…")
        self.cams_button.setToolTip("Also write every Grad-CAM heatmap as NIfTI, on each scan's own grid")
        self.cams_button.clicked.connect(self.choose_cams_dir)
        self.cams_clear_button = QPushButton("Clear")
        self.cams_clear_button.clicked.connect(lambda: self.set_cams_dir(None))
        cams_buttons = QHBoxLayout()
        cams_buttons.addWidget(self.cams_button)
        cams_buttons.addWidget(self.cams_clear_button)
        grid.addWidget(QLabel("Heatmaps to:"), 2, 0)
        grid.addWidget(self.cams_edit, 2, 1)
        grid.addLayout(cams_buttons, 2, 2)

        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("StartButton")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(lambda: self.start())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the case being scored; everything finished is kept")
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v/%m")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setMinimumWidth(260)
        self.eta_label = QLabel()
        self.eta_label.setMinimumWidth(150)
        run_row = QHBoxLayout()
        run_row.addWidget(self.start_button)
        run_row.addWidget(self.cancel_button)
        run_row.addSpacing(8)
        run_row.addWidget(self.progress_bar, 1)
        run_row.addWidget(self.eta_label)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: file, subject, warning, reason…")
        self.filter_edit.setClearButtonEnabled(True)
        self.flag_combo = QComboBox()
        self.flag_combo.addItems(list(FLAG_FILTERS))
        self.shown_label = QLabel()
        filter_row = QHBoxLayout()
        filter_row.addWidget(self.filter_edit, 2)
        filter_row.addWidget(QLabel("Show:"))
        filter_row.addWidget(self.flag_combo)
        filter_row.addStretch(1)
        filter_row.addWidget(self.shown_label)

        self.model = WorklistModel(self)
        self.proxy = WorklistProxy(self)
        self.proxy.setSourceModel(self.model)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.flag_combo.currentTextChanged.connect(self.proxy.set_flag_filter)
        proxy = self.proxy
        for signal in (proxy.rowsInserted, proxy.rowsRemoved, proxy.modelReset, proxy.layoutChanged):
            signal.connect(self._update_shown)

        self.table = QTableView()
        self.table.setObjectName("WorklistTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # discovery order until a header is clicked
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        self.table.doubleClicked.connect(self.open_index)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        self.table.setItemDelegateForColumn(self.model.column["file"], ElideMiddleDelegate(self.table))
        widths = {"file": 290, "subject": 66, "session": 66, "status": 70, "p_injury": 78,
                  "tta_disagreement": 124, "flag": 128, "quality_warnings": 170}
        for key, width in widths.items():
            header.resizeSection(self.model.column[key], width)

        self.message_label = QLabel()
        self.message_label.setObjectName("BatchMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.open_button = QPushButton("Open in viewer")
        self.open_button.setToolTip("Open the selected scan in the viewer and analyse it (or double-click a row)")
        self.open_button.clicked.connect(self.open_selected)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Write every finished row (the filter does not apply) as a worklist CSV")
        self.export_button.clicked.connect(lambda: self.export_csv())
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addLayout(run_row)
        layout.addSpacing(4)
        layout.addLayout(filter_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message_label)
        layout.addLayout(buttons)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self._update_shown()

    # -- folder and options --------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = str(self.folder) if self.folder is not None else ""
        folder = QFileDialog.getExistingDirectory(self, "Folder of scans to score", start)
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str | Path) -> bool:
        """Use ``folder``: detect BIDS, discover its scans and list them as queued."""
        if self.running:
            return False
        folder = Path(folder).resolve()
        if not folder.is_dir():
            self.show_message(f"{folder} is not a folder", error=True)
            return False
        self.folder = folder
        self.folder_edit.setText(str(folder))
        self.folder_edit.setToolTip(str(folder))
        bids = is_bids(folder)
        self.bids_check.blockSignals(True)
        self.bids_check.setChecked(bids)
        self.bids_check.blockSignals(False)
        self.bids_check.setEnabled(True)
        if heatmaps_folder_problem(self.cams_dir, folder):
            self.set_cams_dir(None)
        self._rediscover()
        return True

    def _rediscover(self) -> list:
        """Discover the folder's scans again and list them as queued; returns them."""
        if self.folder is None:
            return []
        try:
            entries = discover(self.folder, bids=self.bids_check.isChecked())
        except OSError as exc:
            self.model.set_entries([])
            self.found_label.clear()
            self.show_message(f"Cannot read {self.folder}: {exc.strerror or exc}", error=True)
            self._update_buttons()
            return []
        self.model.set_entries(entries)
        self.progress_bar.setRange(0, max(1, len(entries)))
        self.progress_bar.setValue(0)
        self.eta_label.clear()
        if not entries:
            where = " (BIDS *_T2w in anat/)" if self.bids_check.isChecked() else ""
            self.found_label.setText("No scans found")
            self.show_message(f"No .nii or .nii.gz files{where} found in {self.folder}", error=True)
        else:
            subjects = {e.subject for e in entries if e.subject}
            found = f"{len(entries)} scan{'s' if len(entries) != 1 else ''} found"
            if subjects:
                found += f" ({len(subjects)} subject{'s' if len(subjects) != 1 else ''})"
            self.found_label.setText(found)
            cached = [r for r in read_worklist(cache_path(self.cache_dir, self.folder)) if r.get("status") == SCORED]
            if cached:
                self.show_message(f"{len(cached)} cases in this folder were scored before; Start skips those "
                                  "that are unchanged and were scored with the same weights.")
            else:
                self.show_message("")
        self._update_buttons()
        return entries

    def choose_cams_dir(self) -> None:
        start = str(self.cams_dir or (self.folder.parent if self.folder is not None else ""))
        folder = QFileDialog.getExistingDirectory(self, "Folder for the heatmaps (not the scans folder)", start)
        if folder:
            self.set_cams_dir(folder)

    def set_cams_dir(self, folder: str | Path | None) -> bool:
        """Write heatmaps to ``folder`` (None: do not write them); refused inside the scans folder."""
        if folder is not None:
            folder = Path(folder).resolve()
            problem = None if self.folder is None else heatmaps_folder_problem(folder, self.folder)
            if problem:
                self.show_message(problem[0].upper() + problem[1:] + ".", error=True)
                return False
        self.cams_dir = folder
        self.cams_edit.setText("" if folder is None else str(folder))
        self.cams_edit.setToolTip("" if folder is None else str(folder))
        self.cams_clear_button.setEnabled(folder is not None and not self.running)
        if folder is not None:
            self.show_message("")
        return True

    # -- running -------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self) -> BatchWorker | None:
        """Score the folder in a worker thread (re-discovering it first)."""
        if self.running or self.folder is None:
            return None
        if heatmaps_folder_problem(self.cams_dir, self.folder):
            self.set_cams_dir(None)
            return None
        entries = self._rediscover()
        if not entries:
            return None
        previous = read_worklist(cache_path(self.cache_dir, self.folder))
        run = BatchRun(folder=self.folder, entries=entries, previous=previous, cams_dir=self.cams_dir)
        weights_dir, device = self.window_.weights_dir, self.window_.device
        worker = BatchWorker(lambda: batch_steps(run, weights_dir, device, worker.case_done.emit), name="batch")
        worker.case_done.connect(lambda event: self._on_case_done(worker, event))
        worker.progressed.connect(lambda _f, message: self._on_progressed(worker, message))
        worker.returned.connect(lambda summary: self._on_stopped(worker, "done", summary))
        worker.failed.connect(lambda message: self._on_stopped(worker, "failed", message))
        worker.cancelled.connect(lambda: self._on_stopped(worker, "cancelled"))
        worker.finished.connect(worker.wait)
        self.worker, self.run = worker, run
        self._counts = {SCORED: 0, SKIPPED: 0, FAILED: 0}
        self._last_save = time.monotonic()
        self.progress_bar.setRange(0, len(entries))
        self.progress_bar.setValue(0)
        self.eta_label.setText("")
        self.show_message(f"Loading weights from {Path(weights_dir).name}…")
        self._set_running(True)
        worker.start()
        return worker

    def cancel(self) -> None:
        """Stop after the case being scored; everything finished is kept (and cached)."""
        if self.worker is None or self.worker.cancel_requested:
            return
        self.worker.cancel()
        self.cancel_button.setEnabled(False)
        self.show_message("Cancelling after the case being scored…")

    def _on_progressed(self, worker: BatchWorker, message: str) -> None:
        if worker is not self.worker:
            return
        if message == WEIGHTS_LOADED:
            self.run.started = time.monotonic()
            self._mark_next_scoring()
            self.show_message(f"Scoring {len(self.run.entries)} scans with {Path(self.window_.weights_dir).name} "
                              f"on {self.window_.device}…")

    def _on_case_done(self, worker: BatchWorker, event: ScoreEvent) -> None:
        if worker is not self.worker:
            return
        self.model.apply_event(event)
        self._counts[SKIPPED if event.skipped else event.row["status"]] += 1
        self._mark_next_scoring()
        self.progress_bar.setRange(0, event.total)
        self.progress_bar.setValue(event.done)
        elapsed = time.monotonic() - self.run.started
        self.eta_label.setText(format_eta(elapsed / event.done * (event.total - event.done))
                               if event.done < event.total else "")
        if time.monotonic() - self._last_save > CACHE_SAVE_INTERVAL_S:
            self._save_cache()

    def _mark_next_scoring(self) -> None:
        if self.worker is None or self.worker.cancel_requested:
            return
        for i, item in enumerate(self.model.items()):
            if item.status == SCORING:
                return
            if item.status == QUEUED:
                self.model.set_status(i, SCORING)
                return

    def _on_stopped(self, worker: BatchWorker, how: str, payload=None) -> None:
        if worker is not self.worker:
            return
        self._end_run(how, payload)

    def _end_run(self, how: str, payload=None) -> None:
        run = self.run
        self.worker = None
        for i, item in enumerate(self.model.items()):
            if item.status == SCORING:
                self.model.set_status(i, QUEUED)
        if run.rows:
            self._save_cache()
        c = self._counts
        done = f"{c[SCORED]} scored, {c[FAILED]} failed"
        skipped = f" Skipped {c[SKIPPED]} already scored with these weights." if c[SKIPPED] else ""
        if how == "done":
            seconds = getattr(payload, "seconds", time.monotonic() - run.started)
            nothing_scored = c[FAILED] > 0 and not (c[SCORED] or c[SKIPPED])
            self.show_message(f"Done in {seconds:.1f} s: {done}.{skipped}", error=nothing_scored)
        elif how == "cancelled":
            self.show_message(f"Cancelled after {len(run.rows)} of {len(run.entries)} scans; kept {done}.{skipped}")
        else:
            self.show_message(f"Cannot score: {payload}", error=True)
        self.eta_label.clear()
        self._set_running(False)
        self.run_finished.emit(how)

    def _save_cache(self) -> None:
        """Write this folder's worklist: this run's rows, plus earlier rows of files it did not reach."""
        run = self.run
        rows = merge_worklist(run.rows, run.previous)
        path = cache_path(self.cache_dir, run.folder)
        try:
            write_worklist(path, rows)
        except OSError as exc:
            log.warning("could not cache the worklist at %s: %s", path, exc)
            self.show_message(f"Could not save the worklist cache ({exc.strerror or exc})", error=True)
        self._last_save = time.monotonic()

    def shutdown(self) -> None:
        """Stop a running batch now (main window closing, application quitting) and cache its rows."""
        worker = self.worker
        if worker is None:
            return
        worker.cancel()
        if not worker.wait(CLOSE_WAIT_MS):
            log.error("the batch did not stop within %d ms", CLOSE_WAIT_MS)
            return
        self._end_run("cancelled")

    def eventFilter(self, obj, event):  # noqa: N802 - Qt hook
        if obj is self.window_ and event.type() == QEvent.Type.Close:
            self.shutdown()
        return False

    def closeEvent(self, ev):  # noqa: N802 - Qt hook
        self.cancel()  # closing the dialog stops the batch (what is done is kept and cached)
        super().closeEvent(ev)

    def _set_running(self, running: bool) -> None:
        for w in (self.folder_button, self.bids_check, self.cams_button):
            w.setEnabled(not running)
        self.cams_clear_button.setEnabled(not running and self.cams_dir is not None)
        self.cancel_button.setEnabled(running)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.start_button.setEnabled(not self.running and self.model.rowCount() > 0)
        self.export_button.setEnabled(not self.running and any(it.row for it in self.model.items()))
        self.open_button.setEnabled(bool(self.table.selectionModel().selectedRows()))

    def _update_shown(self, *_args) -> None:
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        self.shown_label.setText(f"Showing {shown} of {total}" if total else "")

    def show_message(self, text: str, error: bool = False) -> None:
        """One line for the reader (errors in the failure colour); never a traceback."""
        text = text.strip().splitlines()[0] if text.strip() else ""
        self.message_label.setText(text)
        self.message_label.setStyleSheet(f"color: {STATUS_COLOURS[FAILED]};" if error else "")
        self.message_label.setProperty("error", error)

    # -- opening a case ------------------------------------------------------------------------
    def open_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.open_index(rows[0])

    def open_index(self, index: QModelIndex) -> bool:
        """Open the row at ``index`` (of the table's proxy) in the viewer, then analyse it."""
        item = self.model.item(self.proxy.mapToSource(index).row())
        if item.status == FAILED:
            self.show_message(f"{item.entry.relpath} cannot be opened: {item.value('reason')}", error=True)
            return False
        window = self.window_
        self._disconnect_pending()
        self._pending_open = item.entry.path
        window.scan_loaded.connect(self._on_case_loaded)
        window.scan_failed.connect(self._on_case_failed)
        window.open_path(item.entry.path)
        window.raise_()
        window.activateWindow()
        self.show_message(f"Opening {item.entry.relpath} in the viewer…")
        return True

    def _on_case_loaded(self, scan) -> None:
        expected = self._pending_open
        self._disconnect_pending()
        volume_path = getattr(scan.volume, "path", None)
        if expected is None or volume_path is None or Path(volume_path).resolve() != expected.resolve():
            return  # another scan was opened meanwhile
        self.show_message(f"Analysing {expected.name} in the viewer…")
        window = self.window_
        if window.busy:  # an earlier analysis is still stopping: analyse once it has
            def when_idle(busy: bool):
                if not busy:
                    window.busy_changed.disconnect(when_idle)
                    window.start_analysis()
            window.busy_changed.connect(when_idle)
        else:
            window.start_analysis()

    def _on_case_failed(self, message: str) -> None:
        self._disconnect_pending()
        self.show_message(f"Cannot open the scan: {message}", error=True)

    def _disconnect_pending(self) -> None:
        if self._pending_open is None:
            return
        self._pending_open = None
        for signal, slot in ((self.window_.scan_loaded, self._on_case_loaded),
                             (self.window_.scan_failed, self._on_case_failed)):
            try:
                signal.disconnect(slot)
            except TypeError:
                pass  # already disconnected

    # -- export --------------------------------------------------------------------------------
    def export_csv(self, path: str | Path | None = None) -> Path | None:
        """Write every finished row (columns :data:`model.score.COLUMNS`) to a CSV, atomically.

        With no ``path`` a save dialog asks (it confirms overwriting); with a ``path`` that exists
        the reader is asked before it is replaced. Returns the path written, or None.
        """
        rows = [it.row for it in self.model.items() if it.row]
        if not rows:
            self.show_message("Nothing to export yet: score the folder first.", error=True)
            return None
        if path is None:
            name = f"{self.folder.name if self.folder else 'batch'}_worklist.csv"
            start = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
                         or Path.home()) / name
            chosen, _ = QFileDialog.getSaveFileName(self, "Export the worklist", str(start), "CSV files (*.csv)")
            if not chosen:
                return None
            path = Path(chosen)
            if path.suffix.lower() != ".csv":  # the dialog confirmed the name typed, not this one
                path = path.with_name(path.name + ".csv")
                if path.exists() and not self.confirm_overwrite(path):
                    return None
        else:
            path = Path(path)
            if path.exists() and not self.confirm_overwrite(path):
                return None
        try:
            write_worklist(path, rows)
        except OSError as exc:
            self.show_message(f"Cannot write {path}: {exc.strerror or exc}", error=True)
            return None
        self.show_message(f"Exported {len(rows)} rows to {path}")
        return path

    def confirm_overwrite(self, path: Path) -> bool:
        """Ask the reader before replacing ``path`` (:func:`viewer.feedback.confirm_overwrite`)."""
        return confirm_overwrite(self, path)


# -- menu --------------------------------------------------------------------------------------
def open_batch_dialog(window) -> BatchDialog:
    """Show the window's batch dialog (created on first use) and bring it to the front."""
    dialog = window.findChild(BatchDialog)
    if dialog is None:
        dialog = BatchDialog(window)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def install_batch_menu(window) -> QAction:
    """Add Batch > Score folder… (Ctrl+B) to ``window``'s menu bar (before Help); returns the action.

    Installing twice on the same window returns the action already there.
    """
    existing = window.findChild(QAction, "ScoreFolderAction")
    if existing is not None:
        return existing
    action = QAction("Score &folder…", window)
    action.setObjectName("ScoreFolderAction")
    action.setShortcut(QKeySequence("Ctrl+B"))
    tip = "Score every scan in a folder into a sortable worklist (Ctrl+B)"
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.triggered.connect(lambda: open_batch_dialog(window))
    bar = window.menuBar()
    menu = QMenu("&Batch", bar)
    menu.setObjectName("BatchMenu")
    menu.addAction(action)
    help_menu = getattr(window, "help_menu", None)
    help_action = help_menu.menuAction() if help_menu is not None else next(
        (a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    if help_action is not None:
        bar.insertMenu(help_action, menu)
    else:
        bar.addMenu(menu)
    return action
