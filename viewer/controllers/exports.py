"""Exports of the shown reading: screenshot (PNG), heatmap (NIfTI on the input's grid), PDF report
(with the reading's record: every audit entry for the scan, the chain head, the site key,
measurements and PMA, :class:`viewer.services.record_sections.ReadingRecord`).

A controller of the main window. Every export starts in the last export folder (or Documents),
never in the input's folder unless the reader picked it; an existing file is replaced only after
``window.confirm_overwrite`` (:func:`viewer.services.feedback.confirm_overwrite`) says so; files are written
atomically (:mod:`model.fileio`) and an OSError becomes one line for the reader.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PyQt6.QtWidgets import QFileDialog

from model.fileio import atomic_output, save_nifti_atomic
from model.heatmap import HEATMAP_DESCRIPTION
from model.record.audit import AuditLogError
from viewer.controllers.export_content import build_report, default_export_name
from viewer.controllers.host import WindowHost
from viewer.panels.decision_history import scan_entries
from viewer.panels.measure_panel import reading_extras
from viewer.services.jobs import report_job_steps
from viewer.services.record_sections import ReadingRecord
from viewer.services.settings import start_folder
from viewer.services.worker import GeneratorWorker
from viewer.views.screenshot import compose_screenshot, screenshot_caption

if TYPE_CHECKING:
    from PyQt6.QtCore import pyqtBoundSignal

    from viewer.controllers.audit import AuditRecorder
    from viewer.controllers.dicom import DicomController
    from viewer.views.ortho_view import OrthoView


class ExportsHost(WindowHost, Protocol):
    """What the export controller needs of the window, beyond :class:`WindowHost`.

    The planes to grab (``ortho``), the audit recorder for the record on the PDF (``recorder``),
    the DICOM identifiers to print (``dicom``), ``confirm_overwrite`` and the ``export_written``
    signal it emits. The report's reading extras (ruler, PMA) come from
    :func:`viewer.panels.measure_panel.reading_extras`, which reads the window's Measure tab.
    """

    ortho: OrthoView
    recorder: AuditRecorder
    dicom: DicomController
    export_written: pyqtBoundSignal

    def confirm_overwrite(self, path: Path) -> bool: ...


class ExportController:
    """File > Export for one window (``window.exports``)."""

    def __init__(self, window: ExportsHost):
        self.w = window

    def _export_target(self, path, title: str, kind: str, file_filter: str) -> Path | None:
        """The path to write: ``path`` or one the reader chooses; None when cancelled or not to overwrite.

        The dialog starts in the last export folder (or Documents / home), never in the input's folder
        unless the reader picked it before; an existing file is replaced only after asking.
        """
        if path is None:
            start = start_folder(self.w.settings.last_export_folder)  # never the program's folder
            name = default_export_name(self.w.state.scan.name, kind)
            chosen, _ = QFileDialog.getSaveFileName(
                self.w, title, str(start / name), file_filter, options=QFileDialog.Option.DontConfirmOverwrite
            )
            if not chosen:
                return None
            path = Path(chosen)
            suffix = "." + kind.split(".", 1)[1]
            if not path.name.lower().endswith(suffix):
                path = path.with_name(path.name + suffix)
        path = Path(path)
        if path.exists() and not self.w.confirm_overwrite(path):
            return None
        self.w.settings.last_export_folder = str(path.absolute().parent)
        return path

    def export_screenshot(self, path: str | Path | None = None) -> Path | None:
        """Save the plane views as PNG at the screen's full resolution (device pixel ratio), with a
        caption strip under them (banner, caveats, orientation warnings); returns the path."""
        if self.w.state.scan is None:
            self.w.show_error("Nothing to export", "Open a scan first.")
            return None
        path = self._export_target(path, "Save a screenshot of the views", "views.png", "PNG images (*.png)")
        if path is None:
            return None
        pixmap = self.w.ortho.grab()  # device pixels: on a high-DPI screen the image has the screen's resolution
        pixmap = compose_screenshot(pixmap, screenshot_caption(self.w))  # issue 11: banner and caveats

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
            self.w.show_error(f"Cannot save the {what}", f"{path}: {exc.strerror or exc}")
            return None
        self.w.statusBar().showMessage(f"Saved {path}{note}", 8000)
        self.w.export_written.emit(str(path))
        return path

    def export_heatmap(self, path: str | Path | None = None) -> Path | None:
        """Save the heatmap as NIfTI on the input's own grid and affine (not masked); returns the path."""
        result = self.w.state.result
        if not self.w.state.result_visible or result.heatmap is None:
            self.w.show_error("Nothing to export", "There is no heatmap shown to export; analyse the scan first.")
            return None
        if not self.w.state.result_disclosed:  # model.disclosure.may_show_result (issue 30)
            self.w.show_error(
                "Heatmap not exported",
                "This scan is outside what the weights were trained on: its heatmap explains no call. "
                "Tick 'Show probability and heatmap anyway' to export it.",
            )
            return None
        path = self._export_target(path, "Save the heatmap as NIfTI", "heatmap.nii.gz", "NIfTI (*.nii.gz *.nii)")
        if path is None:
            return None
        image = self.w.state.volume.source_image(result.heatmap)
        image.header["descrip"] = HEATMAP_DESCRIPTION.encode("ascii")[:80]
        return self._write_export(
            path,
            lambda target: save_nifti_atomic(image, target),
            "heatmap",
            " (heatmap on the input's grid, not masked to the head)",
        )

    def export_report(self, path: str | Path | None = None) -> GeneratorWorker | None:
        """Write the PDF report in the background; ``export_written`` or an error follows."""
        st = self.w.state
        if not st.result_visible or st.result.heatmap is None:
            self.w.show_error(
                "Nothing to report", "Analyse the scan (and record your impression in reader-first mode) first."
            )
            return None
        path = self._export_target(path, "Save the PDF report", "report.pdf", "PDF (*.pdf)")
        if path is None:
            return None
        report = build_report(
            st.scan,
            st.result,
            st.result_card,
            radiological=st.radiological,
            window=st.window,
            invert=st.invert,
            colormap=st.overlay_colormap,
            threshold=st.overlay_threshold,
            opacity=max(st.overlay_opacity, 0.3),
            reader_name=self.w.settings.reader_name,
            impression=st.impression,
            decision=st.last_decision,
            peak_ijk=st.heatmap_peak,
            identifiers=self.w.dicom.report_identifiers(),  # issue 9: None for NIfTI; blanked when hidden
            record=self.reading_record(),  # issue 11: history with hashes, chain head, key, measurements, PMA
            show_anyway=st.ood_revealed,  # issue 30: one disclosure rule (model.disclosure) for the PDF too
        )
        worker = GeneratorWorker(lambda: report_job_steps(path, report), name="report")
        worker.returned.connect(lambda pages: self._on_report_written(path, pages))
        worker.failed.connect(lambda msg: self.w.show_error("Cannot write the report", msg))
        self.w.statusBar().showMessage(f"Writing {path.name}…")
        self.w.jobs.launch(worker)
        return worker

    def reading_record(self) -> ReadingRecord:
        """What the record says about this reading, for the report (issue 11): every audit entry for
        the scan, the chain head as verified now, the site public key, the kept measurements and PMA."""
        try:
            history = scan_entries(self.w.audit_path, self.w.state.volume.sha256)
        except AuditLogError:
            history = []
        return ReadingRecord(
            history=history,
            chain_head=self.w.recorder.chain_head(),
            public_key=self.w.recorder.public_key,
            signatures=self.w.recorder.signatures_text(),  # issue 30: which lines predate the key
            **reading_extras(self.w),
        )

    def _on_report_written(self, path: Path, pages: int) -> None:
        self.w.statusBar().showMessage(f"Saved {path} ({pages} pages)", 8000)
        self.w.export_written.emit(str(path))
