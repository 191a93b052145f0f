"""Batch > Score folder: a folder of scans becomes a sortable, filterable worklist.

The dialog only wraps :func:`model.score.score_steps` (discovery, loading, scoring, resume, failure
reasons and the batch policy -- no heatmaps inside the scans folder, merged worklists -- all live in
:mod:`model.score`). Its parts: the job in :mod:`viewer.batch.jobs` (:func:`batch_steps`, the
per-folder worklist cache), the table in :mod:`viewer.batch.worklist_model`, the widgets in
:mod:`viewer.batch.layout`, opening a case in the viewer in :mod:`viewer.batch.case`. It talks to
the main window only through :class:`viewer.batch.host.BatchHost`, and reads the model from the window's shared
:class:`viewer.services.model_provider.ModelProvider`.

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
    pyqtSignal,
)
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QDialog,
    QFileDialog,
    QMenu,
)

from model.bids import discover, is_bids
from model.score import ScoreEvent
from model.worklist import heatmaps_folder_problem, merge_worklist, read_worklist, write_worklist
from viewer.batch.case import CaseOpener
from viewer.batch.host import BatchHost
from viewer.batch.jobs import WEIGHTS_LOADED, BatchRun, BatchWorker, batch_steps, cache_path, worklist_cache_dir
from viewer.batch.layout import build_widgets
from viewer.batch.worklist_model import (  # noqa: F401 - SORT_ROLE re-exported for callers of the dialog module
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
from viewer.services.blinding import ask_reveal, confirm_export_blinded
from viewer.services.feedback import confirm_overwrite
from viewer.services.settings import start_folder

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
    window : BatchHost
        The main window: gives the model (``models``); double-clicked rows open there and are analysed.
    cache_dir : str or Path, optional
        Folder of the cached worklists (default :func:`worklist_cache_dir`).

    Signals
    -------
    run_finished(str)
        ``"done"``, ``"cancelled"`` or ``"failed"``, after the table and the cache are updated.
    """

    run_finished = pyqtSignal(str)

    def __init__(self, window: BatchHost, cache_dir: str | Path | None = None):
        super().__init__(window)  # type: ignore[call-overload] - the host is a QWidget too
        self.window_: BatchHost = window
        self.cache_dir = Path(cache_dir) if cache_dir is not None else worklist_cache_dir()
        self.folder: Path | None = None
        self.cams_dir: Path | None = None
        self.worker: BatchWorker | None = None
        self.run: BatchRun | None = None
        self._counts = {SCORED: 0, SKIPPED: 0, FAILED: 0}
        self._last_save = 0.0
        self.case_opener = CaseOpener(window, self.show_message)

        self.setWindowTitle("Batch scoring")
        self.setModal(False)
        self.setSizeGripEnabled(True)
        self.resize(1280, 640)
        build_widgets(self)
        self._set_running(False)
        window.installEventFilter(self)  # stop the batch when the main window closes
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # -- construction --------------------------------------------------------------------------
    # -- folder and options --------------------------------------------------------------------
    def choose_folder(self) -> None:
        start = str(start_folder(self.folder))  # the last folder scored, else Documents; never the program's
        folder = QFileDialog.getExistingDirectory(self, "Folder of scans to score", start)
        if folder:
            self.set_folder(folder)

    def folder_typed(self) -> None:
        """The folder field was edited (Enter or leaving it): use the typed folder."""
        text = self.folder_edit.text().strip()
        if not text or (self.folder is not None and text == str(self.folder)):
            return
        self.set_folder(Path(text).expanduser())  # a wrong folder is said in one line; the text stays to fix

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
        self.rediscover()
        return True

    def rediscover(self) -> list:
        """Discover the folder's scans again and list them as queued; returns them."""
        if self.folder is None:
            return []
        try:
            entries = discover(self.folder, bids=self.bids_check.isChecked())
        except OSError as exc:
            self.model.set_entries([])
            self.found_label.clear()
            self.show_message(f"Cannot read {self.folder}: {exc.strerror or exc}", error=True)
            self.update_buttons()
            return []
        self.model.set_entries(entries)
        self.progress_bar.setRange(0, max(1, len(entries)))
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("%v/%m" if entries else "")
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
                self.show_message(
                    f"{len(cached)} cases in this folder were scored before; Start skips those "
                    "that are unchanged and were scored with the same weights."
                )
            else:
                self.show_message("")
        self.update_buttons()
        return entries

    def choose_cams_dir(self) -> None:
        start = str(start_folder(self.cams_dir, self.folder.parent if self.folder is not None else None))
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
        entries = self.rediscover()
        if not entries:
            return None
        previous = read_worklist(cache_path(self.cache_dir, self.folder))
        run = BatchRun(folder=self.folder, entries=entries, previous=previous, cams_dir=self.cams_dir)
        weights_dir, device = self.window_.models.weights_dir, self.window_.models.device
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
            self.show_message(
                f"Scoring {len(self.run.entries)} scans with {self.window_.models.weights_dir.name} "
                f"on {self.window_.models.device}…"
            )

    def _on_case_done(self, worker: BatchWorker, event: ScoreEvent) -> None:
        if worker is not self.worker:
            return
        self.model.apply_event(event)
        self._counts[SKIPPED if event.skipped else event.row["status"]] += 1
        self._mark_next_scoring()
        self.progress_bar.setRange(0, event.total)
        self.progress_bar.setValue(event.done)
        elapsed = time.monotonic() - self.run.started
        self.eta_label.setText(
            format_eta(elapsed / event.done * (event.total - event.done)) if event.done < event.total else ""
        )
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
        for w in (self.folder_edit, self.folder_button, self.bids_check, self.cams_button):
            w.setEnabled(not running)
        self.cams_clear_button.setEnabled(not running and self.cams_dir is not None)
        self.cancel_button.setEnabled(running)
        self.update_buttons()

    def update_buttons(self) -> None:
        self.start_button.setEnabled(not self.running and self.model.rowCount() > 0)
        self.export_button.setEnabled(not self.running and any(it.row for it in self.model.items()))
        self.open_button.setEnabled(bool(self.table.selectionModel().selectedRows()))

    def update_shown(self, *_args) -> None:
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
        self.case_opener.open(item.entry.path)
        self.show_message(f"Opening {item.entry.relpath} in the viewer…")
        return True

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
        if not confirm_export_blinded(self.window_.blinding, rows, self.confirm_reveal):  # issue 11: reader-first
            return None
        if path is None:
            name = f"{self.folder.name if self.folder else 'batch'}_worklist.csv"
            start = (
                Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation) or Path.home())
                / name
            )
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

    def confirm_reveal(self, n: int) -> bool:
        """Reader-first mode: ask before an export reveals ``n`` hidden results (tests replace this)."""
        return ask_reveal(self, n)

    def confirm_overwrite(self, path: Path) -> bool:
        """Ask the reader before replacing ``path`` (:func:`viewer.services.feedback.confirm_overwrite`)."""
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
    help_action = (
        help_menu.menuAction()
        if help_menu is not None
        else next((a for a in bar.actions() if a.text().replace("&", "") == "Help"), None)
    )
    if help_action is not None:
        bar.insertMenu(help_action, menu)
    else:
        bar.addMenu(menu)
    return action
