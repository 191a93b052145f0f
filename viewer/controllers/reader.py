"""The reader's workflow: impression, accept / reject / override, reader name, reader-first, audit log.

A controller of the main window (:class:`viewer.main_window.MainWindow`): it reads the window's
:class:`viewer.state.ViewerState`, appends every decision to the hash-chained audit log
(:mod:`model.record.audit`, words from :mod:`model.vocabulary`) through the window's
:class:`viewer.controllers.audit.AuditRecorder` (``window.recorder``: signed with the site key when one
is configured, verified before every append) and reports problems through the window's
:class:`viewer.services.feedback.Feedback`. The window's Reader actions call these methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PyQt6.QtCore import QUrl
from PyQt6.QtGui import QDesktopServices
from PyQt6.QtWidgets import QInputDialog, QMessageBox

from model.dicom import audit_fields  # issue 9
from model.record.audit import AuditLogError, decision_record
from model.vocabulary import OVERRIDE_CALLS
from viewer.controllers.host import WindowHost
from viewer.panels.decision_history import check_accept

if TYPE_CHECKING:
    from PyQt6.QtCore import pyqtBoundSignal

    from viewer.controllers.audit import AuditRecorder
    from viewer.panels.measure_panel import MeasurePanel
    from viewer.panels.reader_panel import ReaderPanel


class ReaderHost(WindowHost, Protocol):
    """What the reader controller needs of the window, beyond :class:`WindowHost`.

    The reason field (``reader_panel``), the PMA entered in the Measure tab (``measure``), the
    audit recorder (``recorder``), the ``decision_recorded`` signal it emits, and
    ``update_reader_actions`` to keep the Reader menu in step.
    """

    reader_panel: ReaderPanel
    measure: MeasurePanel
    recorder: AuditRecorder
    decision_recorded: pyqtBoundSignal

    def update_reader_actions(self, *_args) -> None: ...


class ReaderController:
    """Records what the reader decides about the shown scan (``window.reader``)."""

    def __init__(self, window: ReaderHost):
        self.w = window

    @property
    def audit_path(self) -> Path:
        return self.w.audit_path

    def set_reader_first(self, on: bool) -> None:
        self.w.state.set_reader_first(on)
        self.w.settings.reader_first = on

    def ask_reader_name(self) -> str:
        """Ask for the reader's name (stored in the settings); returns it ('' when cancelled)."""
        name, ok = QInputDialog.getText(
            self.w, "Reader name", "Your name, recorded with every decision:", text=self.w.settings.reader_name
        )
        if ok and name.strip():
            self.w.settings.reader_name = name.strip()
            return name.strip()
        return ""

    def _reader_name(self) -> str:
        return self.w.settings.reader_name or self.ask_reader_name()

    def record_impression(self, impression: str) -> dict | None:
        """Record the reader's impression (audit log first; in reader-first mode it reveals the AI result)."""
        if self.w.state.volume is None:
            self.w.show_error("No scan", "Open a scan before recording an impression.")
            self.w.update_reader_actions()
            return None
        entry = self._append_audit("impression", impression=impression)
        if entry is None:
            self.w.update_reader_actions()  # un-check the button: nothing was recorded
            return None
        self.w.state.set_impression(impression)
        self.w.state.set_last_decision(entry)
        return entry

    def record_decision(
        self, decision: str, reason: str | None = None, override_call: str | None = None
    ) -> dict | None:
        """Accept, reject or override the shown AI result; appends an audit entry and returns it.

        ``reason`` defaults to the reader panel's text (cleared after recording). An override
        without ``override_call`` asks the reader for their call. Afterwards the decision buttons
        show the decision recorded last as selected (none pressed in vain stays so, issue 30).
        """
        entry = self._record_decision(decision, reason, override_call)
        self.w.update_reader_actions()
        return entry

    def _record_decision(self, decision: str, reason: str | None, override_call: str | None) -> dict | None:
        if not self.w.state.result_visible:
            self.w.show_error("No AI result", "There is no AI result shown to accept, reject or override.")
            return None
        if decision == "override" and override_call is None:
            override_call = self._ask_override_call()
            if override_call is None:
                return None
        if reason is None:
            reason = self.w.reader_panel.reason_edit.text()
        if decision == "accept":
            reason = check_accept(self.w, reason)  # issue 11: contradicting the impression needs a reason
            if reason is None:
                return None
        entry = self._append_audit(decision, reason=reason, override_call=override_call)
        if entry is not None:
            self.w.reader_panel.reason_edit.clear()
            self.w.state.set_last_decision(entry)
            self.w.statusBar().showMessage(f"Recorded: {decision} (audit entry #{entry['seq']})", 8000)
        return entry

    def record_measurement(self, measurement: dict) -> dict | None:
        """Keep a ruler measurement in the scan's record (Measure tab's Keep; issue 11); returns the entry."""
        return self._append_audit("measurement", measurement=measurement)

    def record_finding(self, finding: dict) -> dict | None:
        """Record that the reader agrees (or not) with one located finding (issue 29); returns the entry."""
        return self._append_audit("finding", finding=finding)

    def _ask_override_call(self) -> str | None:
        result = self.w.state.result
        ai_call = "injury" if result.probability >= result.decision_threshold else "normal"
        options = [c for c in OVERRIDE_CALLS if c != ai_call] + [ai_call]  # an override usually disagrees
        call, ok = QInputDialog.getItem(self.w, "Override the AI result", "Your call for this scan:", options, 0, False)
        return call if ok else None

    def _append_audit(
        self,
        decision: str,
        *,
        impression: str | None = None,
        reason: str = "",
        override_call: str | None = None,
        measurement: dict | None = None,
        finding: dict | None = None,
    ) -> dict | None:
        st = self.w.state
        reader = self._reader_name()
        if not reader:
            self.w.show_error("No reader name", "Decisions are recorded with your name: Reader > Reader name.")
            return None
        result = st.result
        try:
            record = decision_record(
                decision=decision,
                reader=reader,
                input_sha256=st.volume.sha256,
                model_name=None if result is None else result.model_name,
                model_version=None if result is None else result.model_version,
                weights_sha256=None if result is None else result.weights_sha256,
                probability=None if result is None else result.probability,
                threshold=None if result is None else result.decision_threshold,
                flag=None if result is None else result.flag,
                impression=impression if impression is not None else st.impression,
                reason=reason,
                override_call=override_call,
                # out-of-distribution verdict (model.ood_gate)
                in_distribution=None if result is None else result.in_distribution,
                ood_reasons=None if result is None or result.ood is None else result.ood.reasons,
                ai_shown=st.ai_ever_shown,  # issue 11: ever visible for this scan in this session
                pma_weeks=self.w.measure.pma_weeks,  # issue 11: as entered in the Measure tab
                measurement=measurement,
                finding=finding,  # issue 29
            )
            record.update(audit_fields(st.volume))  # issue 9: Study/Series Instance UIDs, never names
            entry = self.w.recorder.append(record)  # issue 11: verifies first, asks after a break
        except (AuditLogError, ValueError) as exc:
            self.w.show_error("Cannot record the decision", str(exc))
            return None
        if entry is None:
            self.w.statusBar().showMessage("Not recorded: the audit log failed verification", 10000)
            return None
        self.w.decision_recorded.emit(entry)
        return entry

    def verify_audit_log(self):
        """Tools > Verify audit log: check the chain, say where it breaks. Returns the ChainReport (or None)."""
        try:
            report = self.w.recorder.verify()  # issue 11: signatures too when a site key is set
        except AuditLogError as exc:
            self.w.show_error("Cannot read the audit log", str(exc))
            return None
        icon = QMessageBox.Icon.Information if report.ok else QMessageBox.Icon.Critical
        self.w.feedback.message(icon, "Audit log", f"{report.message()}\n\n{self.w.audit_path}")
        self.w.statusBar().showMessage(report.message(), 10000)
        return report

    def show_audit_folder(self) -> None:
        folder = self.w.audit_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
