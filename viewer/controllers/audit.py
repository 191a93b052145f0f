"""Recording to the audit log from the window: the site signing key, verification, and a break noted.

:mod:`model.record.audit` holds the log format, the hash chain and the Ed25519 signatures; this
module is the window's side of it:

* the site key: the private key file (PEM, kept outside the log, e.g. on a site share) and its
  public key are stored in the settings (``audit/site_key_file``, ``audit/site_public_key``).
  Verification uses the public key from the settings, never one derived from the file, so a
  replaced key file cannot vouch for itself;
* signing starts where the key was configured (``audit/signed_from``, the number of entries the log
  had then): the entries before it verify as unsigned and Verify says so; every later one must be
  signed. A workstation with a valid unsigned log keeps a valid log when it gets a key (issue 30);
* every append first verifies the chain (cached while the file is unchanged); when it is broken the
  reader is asked before anything is added, and the new entry carries ``chain_note`` saying what
  was wrong, so the record shows that it was continued past a known break;
* without a key, Verify says plainly that the chain shows accidental edits, not deliberate
  rewriting (:data:`model.record.audit.UNSIGNED_CAVEAT`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PyQt6.QtWidgets import QFileDialog, QMessageBox

from model.record.audit import (
    AuditLogError,
    ChainReport,
    append_entry,
    count_entries,
    generate_signing_key,
    load_signing_key,
    public_key_text,
    verify_chain,
)
from viewer.services.settings import in_program_folder, start_folder

if TYPE_CHECKING:
    from viewer.controllers.host import WindowHost

KEY_FILE_SETTING = "audit/site_key_file"
PUBLIC_KEY_SETTING = "audit/site_public_key"
#: ``seq`` of the first entry that must be signed (entries before it predate the key).
SIGNED_FROM_SETTING = "audit/signed_from"
#: Name offered for a new key file.
KEY_FILE_NAME = "site-signing-key.pem"


class AuditRecorder:
    """Appends the window's audit entries, signed when a site key is configured.

    Parameters
    ----------
    window : viewer.controllers.host.WindowHost
        Gives ``audit_path``, ``settings`` (a :class:`viewer.services.settings.Settings`) and the parent of
        the questions asked.
    """

    def __init__(self, window: WindowHost):
        self.window = window
        self._checked: tuple | None = None  # (size, mtime_ns, public key) of the last verified file
        self._last_report: ChainReport | None = None

    # -- the key -------------------------------------------------------------------------------
    @property
    def _q(self):
        return self.window.settings.q

    @property
    def public_key(self) -> str:
        """The site's public key (base64 of 32 bytes), '' when no key is configured."""
        return str(self._q.value(PUBLIC_KEY_SETTING, "") or "")

    @property
    def key_file(self) -> str:
        return str(self._q.value(KEY_FILE_SETTING, "") or "")

    @property
    def signed_from(self) -> int:
        """``seq`` of the first entry written with the site key (0 without a key, or for old settings)."""
        try:
            return max(0, int(self._q.value(SIGNED_FROM_SETTING, 0) or 0))
        except (TypeError, ValueError):
            return 0

    def _cache_key(self, stat) -> tuple:
        return (stat.st_size, stat.st_mtime_ns, self.public_key, self.signed_from)

    def use_key_file(self, path: str | Path, create: bool = False) -> str:
        """Use the Ed25519 key at ``path`` (``create``: make a new one there); returns its public key.

        Raises
        ------
        AuditLogError
            The file cannot be read or written, is not an Ed25519 private key, or a new key would be
            created in the program's folder (shared with every user of the installation, issue 30).
        """
        path = Path(path)
        if create and in_program_folder(path):
            raise AuditLogError(
                path, "a private key is not kept in the program's folder; choose a folder of your own or a site share"
            )
        public = generate_signing_key(path) if create else public_key_text(load_signing_key(path))
        if public != self.public_key:  # a new key signs from the next entry on (issue 30)
            self._q.setValue(SIGNED_FROM_SETTING, count_entries(self.window.audit_path))
        self._q.setValue(KEY_FILE_SETTING, str(path.absolute()))
        self._q.setValue(PUBLIC_KEY_SETTING, public)
        self._q.sync()
        self._checked = None
        return public

    def _signing_key(self):
        """The private key, or None without a configured key. Raises AuditLogError when unusable."""
        if not self.key_file:
            return None
        key = load_signing_key(self.key_file)
        if public_key_text(key) != self.public_key:
            raise AuditLogError(self.key_file, "this key file does not match the site public key in the settings")
        return key

    # -- verify and append -----------------------------------------------------------------------
    def verify(self) -> ChainReport:
        """Verify the whole log (signatures too when a key is configured). Raises AuditLogError."""
        path = Path(self.window.audit_path)
        try:
            report = verify_chain(path, public_key=self.public_key or None, signed_from=self.signed_from)
        except ValueError as exc:
            raise AuditLogError(path, f"the site public key in the settings is damaged ({exc})") from exc
        stat = path.stat() if path.exists() else None
        self._checked = None if stat is None else self._cache_key(stat)
        self._last_report = report
        return report

    def _current_report(self) -> ChainReport:
        path = Path(self.window.audit_path)
        if path.exists() and self._last_report is not None:
            stat = path.stat()
            if self._checked == self._cache_key(stat):
                return self._last_report
        return self.verify()

    def append(self, record: dict) -> dict | None:
        """Verify, ask when the chain is broken, then append ``record`` (signed when a key is set).

        Returns
        -------
        dict or None
            The entry as written; None when the reader chose not to record past a broken chain.

        Raises
        ------
        AuditLogError
            The log or the key cannot be used.
        """
        report = self._current_report()
        record = dict(record)
        if not report.ok:
            if not self.confirm_append_after_break(report):
                return None
            record["chain_note"] = f"recorded after a failed verification: {report.message()}"
        entry = append_entry(self.window.audit_path, record, signing_key=self._signing_key())
        if report.ok:  # the chain stays verified: remember the file as it is now
            stat = Path(self.window.audit_path).stat()
            self._checked = self._cache_key(stat)
            self._last_report = ChainReport(
                ok=True,
                n_entries=report.n_entries + 1,
                last_hash=entry["hash"],
                signed=report.signed,
                signed_from=report.signed_from,
            )
        return entry

    def chain_head(self) -> str | None:
        """``hash`` of the log's last entry as verified now (None for an empty or broken log)."""
        try:
            report = self._current_report()
        except AuditLogError:
            return None
        return report.last_hash if report.ok else None

    def signatures_text(self) -> str:
        """What the signatures show as verified now (:meth:`ChainReport.signatures_text`), or why not."""
        try:
            report = self._current_report()
        except AuditLogError as exc:
            return f"not verified: {exc}"
        return report.signatures_text() if report.ok else f"not verified: {report.message()}"

    def confirm_append_after_break(self, report: ChainReport) -> bool:
        """Ask before adding to a log that failed verification (tests replace this method)."""
        answer = QMessageBox.question(
            self.window,
            "The audit log failed verification",
            f"{report.message()}\n\nRecord this decision anyway? The new entry will note the break.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    # -- the Tools menu command ------------------------------------------------------------------------
    def configure_dialog(self) -> str:
        """Tools > Site signing key…: choose an existing key file or create one; returns the public key."""
        current = (
            f"Current site public key: {self.public_key}\n\n"
            if self.public_key
            else "No site signing key is configured: the chain shows accidental edits, not deliberate rewriting.\n\n"
        )
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Site signing key",
            current + "Entries are signed with an Ed25519 key kept outside the audit log.",
            QMessageBox.StandardButton.Cancel,
            self.window,
        )
        use = box.addButton("Use a key file…", QMessageBox.ButtonRole.AcceptRole)
        new = box.addButton("Create a new key…", QMessageBox.ButtonRole.AcceptRole)
        box.exec()
        clicked = box.clickedButton()
        # both start where the key is (or Documents), never in the program's folder (issue 30)
        folder = start_folder(Path(self.key_file).parent if self.key_file else None)
        if clicked is use:
            path, _ = QFileDialog.getOpenFileName(
                self.window, "Site signing key (PEM)", str(folder), "PEM (*.pem);;All files (*)"
            )
        elif clicked is new:
            path, _ = QFileDialog.getSaveFileName(
                self.window, "New site signing key", str(folder / KEY_FILE_NAME), "PEM (*.pem)"
            )
        else:
            return ""
        if not path:
            return ""
        try:
            public = self.use_key_file(path, create=clicked is new)
        except AuditLogError as exc:
            self.window.show_error("Cannot use this key", str(exc))
            return ""
        self.window.statusBar().showMessage(f"Entries are now signed; site public key {public}", 10000)
        return public
