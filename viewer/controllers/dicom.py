"""DICOM in the viewer: open a folder, pick a series, show (or hide) identifiers, export as DICOM.

:func:`install_dicom` adds to a :class:`viewer.main_window.MainWindow`:

* File > Open DICOM folder… (Ctrl+Shift+D). A dropped folder and ``main.py DIR`` arrive through
  ``MainWindow.open_path``, which hands folders and non-NIfTI files to :meth:`DicomController.open_folder`.
  The folder is searched off the GUI thread (:func:`model.dicom.find_series`); one image series
  opens directly, several show the :class:`viewer.panels.series_picker.SeriesPicker`. The chosen series is
  converted and opened through the window's own loading job, so everything after (analysis, audit,
  exports) is the same as for a NIfTI file.
* The identifiers of a DICOM scan (patient name and ID, birth date, study date and description,
  series description, scanner, field strength) in an identifier bar under the toolbar and in a
  "Patient and study" box on the Scan tab; View > Hide identifiers (Ctrl+Alt+H) blanks them there,
  in the window title's file path, and in the PDF report (:meth:`DicomController.report_identifiers`).
  Screenshots grab the plane views, which never carry identifiers.
* File > Export > As DICOM… (Ctrl+Alt+E): :func:`model.record.dicom_export.export_dicom` in a
  worker, into a folder the reader picks (never the input's).

The audit log gets the Study/Series Instance UIDs through :func:`model.dicom.audit_fields`, never names.
"""

from __future__ import annotations

import functools
from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QFileDialog, QFormLayout, QGroupBox, QLabel, QToolBar

from model.dicom import find_series, image_series, is_dicom_file, load_series, series_uid_of
from model.errors import ScanError
from model.inference import Progress
from viewer.controllers.actions import make_action
from viewer.display import make_scan
from viewer.panels.series_picker import SeriesPicker
from viewer.services.settings import start_folder
from viewer.services.worker import GeneratorWorker
from viewer.views.elided_label import ElidedLabel

HIDDEN = "(hidden)"
HIDDEN_BAR_TEXT = "Identifiers hidden (View › Hide identifiers)"


def find_series_steps(path: str | Path):
    """Search ``path`` for DICOM series (job generator). Returns ``list[SeriesInfo]``."""
    path = Path(path)
    yield Progress(0.0, f"Searching {path.name} for DICOM series")
    return find_series(path)


def open_series_steps(series):
    """Convert and prepare one series for display (job generator). Returns :class:`viewer.display.Scan`."""
    yield Progress(0.0, f"Converting DICOM series {series.series_number} ({series.n_images} images) with dcm2niix")
    volume = load_series(series)
    yield Progress(0.7, "Computing the display window and the head mask")
    return make_scan(volume, scan_name(series))


def _not_dicom_steps(path: Path):
    yield Progress(0.0, f"Opening {path.name}")
    raise ScanError(path, "neither a NIfTI (.nii, .nii.gz) nor a DICOM file")


def scan_name(series) -> str:
    """Name of a DICOM scan in the title bar and export file names (no patient identifiers)."""
    return f"DICOM series {series.series_number if series.series_number is not None else series.series_uid}"


def export_steps(out_dir, volume, result, card, show_anyway: bool = False):
    """Write the SR + SC, and with a segmentation the SEG and TID 1500 measurement report (job
    generator), under the disclosure rule (:mod:`model.disclosure`). Returns
    :class:`model.record.dicom_export.ExportedFiles`."""
    from model.record.dicom_export import export_dicom

    yield Progress(0.0, "Writing the DICOM structured report, key images and, with a segmentation, SEG + measurements")
    return export_dicom(out_dir, volume, result, card, show_anyway=show_anyway)


class DicomController(QObject):
    """DICOM opening, identifiers and DICOM export of one main window (see the module docstring).

    Signals
    -------
    identifiers_changed()
        The shown identifiers changed (new scan, or hidden/shown).
    picker_shown(object)
        The :class:`SeriesPicker` is open (tests pick a row through it).
    exported(object)
        ``ExportedFiles`` of a finished DICOM export.
    """

    identifiers_changed = pyqtSignal()
    picker_shown = pyqtSignal(object)
    exported = pyqtSignal(object)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.picker: SeriesPicker | None = None
        action = functools.partial(make_action, window)
        self.open_folder_action = action(
            "Open &DICOM folder…",
            lambda: self.open_folder_dialog(),
            "Ctrl+Shift+D",
            "Open a DICOM series from a folder (scanner or PACS export, CD with DICOMDIR)",
        )
        self.export_action = action(
            "As &DICOM (structured report + key images)…",
            lambda: self.export_dialog(),
            "Ctrl+Alt+E",
            "Write the result as a DICOM SR and a secondary capture, as new series of the source study",
        )
        self.hide_action = action(
            "Hide &identifiers",
            self.set_hidden,
            "Ctrl+Alt+H",
            "Blank patient and study identifiers on screen and in the PDF report",
            checkable=True,
        )
        self._install_menus()
        self.bar = QToolBar("Identifiers", window)
        self.bar.setObjectName("IdentifierBar")
        self.bar.setMovable(False)
        self.bar_label = ElidedLabel()  # long identifiers elide, never widen the window (issue 30)
        self.bar_label.setObjectName("IdentifierText")
        self.bar.addWidget(self.bar_label)
        self.bar.addSeparator()
        self.bar.addAction(self.hide_action)
        window.addToolBarBreak()
        window.addToolBar(self.bar)
        self.box = QGroupBox("Patient and study")
        self.box.setObjectName("IdentifierBox")
        self.form = QFormLayout(self.box)
        self.form.setContentsMargins(6, 4, 6, 6)
        window.header_panel.layout().insertWidget(1, self.box)
        self.values: dict = {}
        window.state.scan_changed.connect(lambda _scan: self.refresh())
        window.state.result_changed.connect(lambda _r: self._update_actions())
        window.state.reader_changed.connect(self._update_actions)
        self.refresh()

    # -- menus ---------------------------------------------------------------------------------------
    def _install_menus(self) -> None:
        w = self.window
        menus = [m.menu() for m in w.menuBar().actions() if m.menu() is not None]
        file_menu = next((m for m in menus if w.open_action in m.actions()), menus[0])
        file_menu.insertAction(w.recent_menu.menuAction(), self.open_folder_action)
        export_menu = next(
            (a.menu() for a in file_menu.actions() if a.menu() is not None and w.report_action in a.menu().actions()),
            file_menu,
        )
        export_menu.addAction(self.export_action)
        view_menu = next((m for m in menus if w.header_action in m.actions()), None)
        if view_menu is not None:
            view_menu.addAction(self.hide_action)

    # -- opening -------------------------------------------------------------------------------------
    def open_folder_dialog(self) -> None:
        start = str(start_folder(self.window.settings.last_open_folder))  # never the program's folder
        folder = QFileDialog.getExistingDirectory(self.window, "Open a DICOM folder", start)
        if folder:
            self.open_folder(folder)

    def open_folder(self, path: str | Path) -> GeneratorWorker:
        """Search ``path`` (folder or DICOM file) for series; open one or show the picker."""
        path = Path(path)
        if path.is_file() and not is_dicom_file(path):
            worker = GeneratorWorker(lambda: _not_dicom_steps(path), name="open")
            worker.failed.connect(lambda msg: self._fail(msg))
            self.window.jobs.launch(worker)
            return worker
        worker = GeneratorWorker(lambda: find_series_steps(path), name=f"search {path.name}")
        worker.progressed.connect(lambda f, m: self.window.statusBar().showMessage(m))
        worker.returned.connect(lambda found: self._on_found(path, found))
        worker.failed.connect(lambda msg: self._fail(msg))
        self.window.jobs.launch(worker)
        return worker

    def _fail(self, message: str) -> None:
        self.window.show_error("Cannot open DICOM", message)
        self.window.scan_failed.emit(message)

    def _on_found(self, path: Path, found: list) -> None:
        images = image_series(found)
        if path.is_file():  # a file: its own series
            uid = series_uid_of(path)
            images = [s for s in images if s.series_uid == uid] or images
        if not images:
            others = len(found)
            self._fail(
                f"{path}: no DICOM image series found"
                + (f" ({others} non-image object(s) such as reports)" if others else "")
            )
            return
        if len(images) == 1:
            self.open_series(images[0])
            return
        self.picker = SeriesPicker(images, path.name, self.window)
        self.picker.accepted.connect(lambda: self._on_picked(self.picker))
        self.picker.open()
        self.picker_shown.emit(self.picker)

    def _on_picked(self, picker: SeriesPicker) -> None:
        series = picker.chosen()
        if series is not None:
            self.open_series(series)

    def open_series(self, series) -> GeneratorWorker:
        """Convert and open ``series`` through the window's loading job (``scan_loaded`` follows)."""
        return self.window.opener._start_load(lambda: open_series_steps(series), f"open series {series.series_number}")

    # -- identifiers ---------------------------------------------------------------------------------
    @property
    def hidden(self) -> bool:
        return self.hide_action.isChecked()

    def set_hidden(self, hidden: bool) -> None:
        """Hide (True) or show the identifiers everywhere they appear."""
        if self.hide_action.isChecked() != bool(hidden):
            self.hide_action.setChecked(bool(hidden))  # toggled -> set_hidden again
            return
        self.refresh()

    def series(self):
        """:class:`model.dicom.SeriesInfo` of the open scan, or None (NIfTI, sample, nothing open)."""
        volume = self.window.state.volume
        return None if volume is None else volume.extra.get("dicom")

    def shown_identifiers(self) -> dict:
        """Label -> text as shown now (:data:`HIDDEN` when hidden); empty for a non-DICOM scan."""
        series = self.series()
        if series is None:
            return {}
        values = dict(series.identifiers())
        values.update({"Study UID": series.study_uid, "Series UID": series.series_uid})
        return {k: (HIDDEN if self.hidden else v) for k, v in values.items()}

    def report_identifiers(self) -> list | None:
        """(label, value) pairs for the PDF report; None for a non-DICOM scan."""
        series = self.series()
        if series is None:
            return None
        if self.hidden:
            return [("Identifiers", "hidden (View › Hide identifiers was on when this report was made)")]
        return [(k, v or "—") for k, v in series.identifiers().items()]

    def refresh(self) -> None:
        shown = self.shown_identifiers()
        self.bar.setVisible(bool(shown))
        self.box.setVisible(bool(shown))
        while self.form.rowCount():
            self.form.removeRow(0)
        self.values = {}
        for label, value in shown.items():
            name, text = QLabel(label), QLabel(value or "—")
            name.setObjectName("DetailName")
            text.setWordWrap(True)
            self.form.addRow(name, text)
            self.values[label] = text
        if shown:
            if self.hidden:
                self.bar_label.setText(HIDDEN_BAR_TEXT)
            else:
                series = self.series()
                ids = series.identifiers()
                parts = [
                    ids["Patient name"] or "(no name)",
                    f"ID {ids['Patient ID'] or '—'}",
                    f"born {ids['Birth date'] or '—'}",
                    f"study {ids['Study date'] or '—'} {ids['Study']}".strip(),
                    f"series {series.series_number}: {ids['Series'] or '—'}",
                    " ".join(v for v in (ids["Scanner"], ids["Field strength"]) if v) or "scanner —",
                ]
                self.bar_label.setText("   ·   ".join(parts))
            file_field = self.window.header_panel.values.get("File")
            if file_field is not None:  # the folder path of an export often holds the patient's name
                file_field.setText(HIDDEN if self.hidden else str(self.window.state.volume.path))
        self._update_actions()
        self.identifiers_changed.emit()

    def _update_actions(self) -> None:
        st = self.window.state
        self.export_action.setEnabled(
            bool(
                self.series() is not None
                and st.result_visible
                and st.result is not None
                and st.result.heatmap is not None
            )
        )

    # -- export --------------------------------------------------------------------------------------
    def export_dialog(self) -> GeneratorWorker | None:
        start = start_folder(self.window.settings.last_export_folder)
        folder = QFileDialog.getExistingDirectory(self.window, "Export as DICOM into folder", str(start))
        return self.export_to(folder) if folder else None

    def export_to(self, folder: str | Path) -> GeneratorWorker | None:
        """Write the SR + SC of the shown result into ``folder`` in a worker; ``exported`` follows."""
        st = self.window.state
        if self.series() is None:
            self.window.show_error("Nothing to export", "DICOM export needs a scan opened from DICOM.")
            return None
        if not st.result_visible or st.result is None or st.result.heatmap is None:
            self.window.show_error(
                "Nothing to export", "Analyse the scan (and record your impression in reader-first mode) first."
            )
            return None
        folder = Path(folder)
        volume, result, card, reveal = st.volume, st.result, st.result_card, st.ood_revealed
        worker = GeneratorWorker(
            lambda: export_steps(folder, volume, result, card, show_anyway=reveal), name="DICOM export"
        )
        worker.returned.connect(self._on_exported)
        worker.failed.connect(lambda msg: self.window.show_error("Cannot export as DICOM", msg))
        self.window.settings.last_export_folder = str(folder.absolute())
        self.window.jobs.launch(worker)
        return worker

    def _on_exported(self, files) -> None:
        extra = " + segmentation (SEG) and measurement report" if files.seg_path is not None else ""
        self.window.statusBar().showMessage(f"Saved DICOM SR and key images{extra} in {files.sr_path.parent}", 8000)
        self.exported.emit(files)
        self.window.export_written.emit(str(files.sr_path))


def install_dicom(window) -> DicomController:
    """Add DICOM opening, identifiers and export to ``window`` (see the module docstring)."""
    return DicomController(window)
