"""Reader-first blinding as a property of the session, not of one panel.

One :class:`Blinding` per window holds, for every scan met in this session (keyed by the SHA-256
of the file's bytes, :func:`scan_key`):

* whether the reader has recorded an impression of it (then its AI result may be shown), and
* whether its AI result was **ever visible** — in the result panel, the heatmap, the 2 × 2 tile,
  the batch worklist or an export — whatever reader-first mode was at the time.

Every place a result can appear asks :meth:`Blinding.may_show` (the main window through
:attr:`viewer.state.ViewerState.result_visible`, the batch worklist through
:class:`viewer.batch.worklist_model.BlindedWorklist`, the CSV through :func:`confirm_export_blinded`), and
reports what it showed with :meth:`Blinding.note_shown`. The audit entry's ``ai_shown`` is
:meth:`Blinding.ever_shown`: turning reader-first off, looking, turning it back on and recording an
impression logs ``ai_shown: true``.
"""

from __future__ import annotations

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QMessageBox


def scan_key(volume) -> str | None:
    """The session's key of a scan: its input SHA-256 (as in the audit log), else its path, else its identity."""
    if volume is None:
        return None
    if getattr(volume, "sha256", None):
        return str(volume.sha256)
    if getattr(volume, "path", None) is not None:
        return f"path:{volume.path}"
    return f"memory:{id(volume)}"


class Blinding(QObject):
    """Per-scan blinding state of one reading session.

    Signals
    -------
    changed()
        Reader-first mode or an impression changed: what may be shown changed.
    """

    changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._reader_first = False
        self._impressions: dict[str, str] = {}
        self._shown: set[str] = set()

    @property
    def reader_first(self) -> bool:
        return self._reader_first

    def set_reader_first(self, on: bool) -> None:
        on = bool(on)
        if on != self._reader_first:
            self._reader_first = on
            self.changed.emit()

    def impression(self, key: str | None) -> str | None:
        """The impression recorded for scan ``key`` in this session, or None."""
        return self._impressions.get(key) if key else None

    def record_impression(self, key: str | None, impression: str | None) -> None:
        if not key:
            return
        if impression is None:
            if self._impressions.pop(key, None) is not None:
                self.changed.emit()
        elif self._impressions.get(key) != impression:
            self._impressions[key] = impression
            self.changed.emit()

    def may_show(self, key: str | None) -> bool:
        """True when scan ``key``'s AI result may be shown now (not reader-first, or impression recorded)."""
        return not self._reader_first or (bool(key) and key in self._impressions)

    def note_shown(self, key: str | None) -> None:
        """Scan ``key``'s AI result was visible somewhere (recorded for ``ai_shown``)."""
        if key:
            self._shown.add(key)

    def ever_shown(self, key: str | None) -> bool:
        """True when scan ``key``'s AI result was ever visible in this session."""
        return bool(key) and key in self._shown


def row_key(row: dict | None) -> str | None:
    """The key of a worklist row (its ``input_sha256``, as :func:`scan_key` of the opened scan)."""
    return (row or {}).get("input_sha256") or None


def confirm_export_blinded(blinding: Blinding, rows: list, confirm) -> bool:
    """Before worklist rows leave the app (the CSV) in reader-first mode: when some hold results the
    reader may not see yet, ask ``confirm(n)``, and record those scans as shown. True when the
    export may go ahead."""
    hidden = [r for r in rows if r.get("p_injury") not in (None, "") and not blinding.may_show(row_key(r))]
    if not hidden:
        return True
    if not confirm(len(hidden)):
        return False
    for row in hidden:
        blinding.note_shown(row_key(row))
    return True


def ask_reveal(parent, n: int) -> bool:
    """Reader-first mode: may the export reveal ``n`` hidden AI results? (modal question)"""
    answer = QMessageBox.question(
        parent,
        "Reader-first mode",
        f"The CSV holds the AI results of {n} scan(s) you have not recorded an impression for. "
        "Exporting counts as seeing them: later decisions on these scans will record ai_shown = true.\n\nExport?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes
