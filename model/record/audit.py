"""The reader's audit log: append-only JSON lines chained by SHA-256, and a verifier.

Every decision a reader records about an AI result (an impression, accept, reject, override) is
one line of JSON. Each entry carries ``prev_hash``, the ``hash`` of the entry before it (64 zeros
for the first), and its own ``hash``: the SHA-256 (FIPS 180-4, :mod:`hashlib`) of the entry's
canonical JSON without the ``hash`` field (keys sorted, no whitespace, UTF-8). Editing a line
changes its hash; deleting, inserting or moving a line breaks the ``prev_hash`` link of the line
after it. :func:`verify_chain` walks the file and names the first line where the chain breaks.

What the chain cannot show on its own: removing the *last* lines of the file (truncation) leaves a
valid shorter chain, and an attacker who rewrites every hash after an edit produces a valid chain.
Keep a copy of the latest ``hash`` elsewhere (e.g. in the report) to detect those.

Signatures close the second gap. With a site key (an Ed25519 private key, RFC 8032, from the
``cryptography`` package, stored as PEM outside the log) every entry also carries ``signer`` (the
base64 raw public key) and ``signature`` (base64 Ed25519 signature of the entry's ``hash``). Whoever
verifies with the site's *public* key (kept in the settings, printed in the report) finds a chain
rewritten without the private key: the recomputed hashes no longer match their signatures. Without a
key the chain shows accidental edits, not deliberate rewriting (:data:`UNSIGNED_CAVEAT`).

Signing starts at a point in the chain (issue 30): a workstation that configures a site key has a
log of unsigned entries already. ``signed_from`` (the ``seq`` of the first entry written with the
key, stored with the public key by the caller) makes those earlier entries verify as unsigned
(hashes only; the first signed entry seals them, since its signed hash covers their chain) and every
entry from it on must be signed. :meth:`ChainReport.message` says exactly which lines are which.

Nothing here imports Qt; where the log lives is the caller's choice (the viewer uses the user's
application-data folder).

The log is in three parts; this module is the chain (append, verify, read) and re-exports the public
names of the other two, so ``from model.record.audit import ...`` reaches all of them:

* :mod:`model.record.audit_entry`: one entry, its fields validated (:func:`decision_record`), its
  canonical JSON and hash (:func:`entry_hash`), and :class:`AuditLogError`;
* :mod:`model.record.audit_keys`: the site signing key (:func:`generate_signing_key`,
  :func:`load_signing_key`, :func:`public_key_text`); imports ``audit_entry`` only;
* this module: :func:`append_entry`, :func:`verify_chain` with :class:`ChainReport`,
  :func:`count_entries`, :func:`read_entries`; imports both.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from model.record.audit_entry import (
    ENTRY_FORMAT,
    UNHASHED_FIELDS,
    AuditLogError,
    canonical_json,
    decision_record,
    entry_hash,
)
from model.record.audit_keys import (
    _public_key,
    _signature_ok,
    generate_signing_key,
    load_signing_key,
    public_key_text,
)

try:  # POSIX advisory lock: two app windows appending at once keep the chain linear
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: File name of the log inside the application-data folder.
AUDIT_FILE_NAME = "audit-log.jsonl"
#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64
#: What an unsigned chain can and cannot show (said wherever an unsigned log is verified).
UNSIGNED_CAVEAT = (
    "Without a site signing key the chain shows accidental edits, but not deliberate rewriting: "
    "anyone can recompute every hash after changing an entry."
)

__all__ = [
    "AUDIT_FILE_NAME",
    "ENTRY_FORMAT",
    "GENESIS_HASH",
    "UNHASHED_FIELDS",
    "UNSIGNED_CAVEAT",
    "AuditLogError",
    "ChainReport",
    "append_entry",
    "canonical_json",
    "count_entries",
    "decision_record",
    "entry_hash",
    "generate_signing_key",
    "load_signing_key",
    "public_key_text",
    "read_entries",
    "verify_chain",
]


def _last_line(fh) -> bytes:
    """The last non-empty line of a binary file opened for reading (b"" when empty)."""
    fh.seek(0, os.SEEK_END)
    end = fh.tell()
    block, data = 4096, b""
    pos = end
    while pos > 0:
        step = min(block, pos)
        pos -= step
        fh.seek(pos)
        data = fh.read(step) + data
        stripped = data.rstrip(b"\r\n")
        if b"\n" in stripped:
            return stripped.rsplit(b"\n", 1)[1]
    return data.rstrip(b"\r\n")


def append_entry(path: str | Path, record: dict, signing_key=None) -> dict:
    """Append ``record`` to the log at ``path`` (created with its folder), chained to the last entry.

    Parameters
    ----------
    path : str or Path
    record : dict
        JSON-serialisable fields, e.g. from :func:`decision_record`; must not contain ``seq``,
        ``prev_hash``, ``hash``, ``signer`` or ``signature``.
    signing_key : Ed25519PrivateKey, optional
        The site key (:func:`load_signing_key`): the entry gets ``signer`` and ``signature``.

    Returns
    -------
    dict
        The entry as written, with ``seq`` (0-based position), ``prev_hash`` and ``hash``.

    Raises
    ------
    AuditLogError
        The folder or file cannot be written, or the last line is not a valid entry (the chain
        cannot be continued; run :func:`verify_chain`).
    """
    path = Path(path)
    reserved = {"seq", "prev_hash", "hash", "signer", "signature"} & set(record)
    if reserved:
        raise ValueError(f"record must not contain {sorted(reserved)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+b")
    except OSError as exc:
        raise AuditLogError(path, f"cannot be opened for appending ({exc.strerror or exc})") from exc
    with fh:
        if fcntl is not None:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        last = _last_line(fh)
        if last:
            try:
                previous = json.loads(last.decode("utf-8"))
                prev_hash, seq = str(previous["hash"]), int(previous["seq"]) + 1
            except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise AuditLogError(
                    path, "the last line is not a valid audit entry; verify the log before adding to it"
                ) from exc
        else:
            prev_hash, seq = GENESIS_HASH, 0
        entry = {**record, "seq": seq, "prev_hash": prev_hash}
        if signing_key is not None:
            entry["signer"] = public_key_text(signing_key)
        entry["hash"] = entry_hash(entry)
        if signing_key is not None:
            entry["signature"] = base64.b64encode(signing_key.sign(entry["hash"].encode("ascii"))).decode("ascii")
        line = canonical_json(entry) + b"\n"
        fd = fh.fileno()
        size = fh.seek(0, os.SEEK_END)
        try:  # unbuffered, so a failed write leaves nothing queued to be written at close
            written = 0
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        except OSError as exc:  # disk full, quota, I/O error: no half line stays (issue 30)
            try:
                os.ftruncate(fd, size)
                os.fsync(fd)
            except OSError:
                pass  # the log then ends in a torn line, which verify_chain names
            raise AuditLogError(path, f"cannot be written ({exc.strerror or exc}); nothing was added") from exc
    return entry


@dataclass(frozen=True)
class ChainReport:
    """Outcome of :func:`verify_chain`.

    Attributes
    ----------
    ok : bool
        True when every line is a valid entry linked to the one before.
    n_entries : int
        Lines checked and found valid before the first break (all of them when ``ok``).
    broken_line : int or None
        1-based line number where the chain first breaks.
    reason : str
        What is wrong at ``broken_line`` (empty when ``ok``).
    last_hash : str or None
        ``hash`` of the last valid entry (compare with a copy kept elsewhere to detect truncation).
    signed : bool
        True when entries were checked against the site's public key (False: hashes only, see
        :data:`UNSIGNED_CAVEAT`).
    signed_from : int
        With ``signed``: entries before this ``seq`` (lines 1 to ``signed_from``) were written before
        the site key was configured and were verified as unsigned; every later entry was checked
        against the key (0: every entry).
    """

    ok: bool
    n_entries: int
    broken_line: int | None = None
    reason: str = ""
    last_hash: str | None = None
    signed: bool = False
    signed_from: int = 0

    @property
    def n_unsigned(self) -> int:
        """Entries verified as unsigned: all without a key, else those before :attr:`signed_from`."""
        return self.n_entries if not self.signed else min(self.signed_from, self.n_entries)

    def signatures_text(self) -> str:
        """What the signatures of the verified entries show, in one sentence (for a report)."""
        n, k = self.n_entries, self.n_unsigned
        if not self.signed:
            return f"none. {UNSIGNED_CAVEAT}"
        if k == 0:
            return "every entry is signed by the site key (Ed25519)."
        before = "recorded before the site signing key was configured"
        if k >= n:
            return (
                f"{_lines(1, n)} {'was' if n == 1 else 'were'} {before} and {'is' if n == 1 else 'are'} unsigned "
                f"(hashes only); entries from line {n + 1} on will be signed. {UNSIGNED_CAVEAT}"
            )
        return (
            f"{_lines(1, k)} {'was' if k == 1 else 'were'} {before} and {'is' if k == 1 else 'are'} unsigned "
            f"(hashes only, sealed by the signed entry after them); {_lines(k + 1, n)} "
            f"{'is' if k + 1 == n else 'are'} signed by the site key (Ed25519)."
        )

    def message(self) -> str:
        """What the reader is told (one to three sentences)."""
        if self.ok:
            if self.n_entries == 0:
                text = "The audit log is empty."
                return text if self.signed else f"{text} {UNSIGNED_CAVEAT}"
            text = f"The audit log is intact: {self.n_entries} entries, chain verified."
            if not self.signed:
                return f"{text} {UNSIGNED_CAVEAT}"
            if self.n_unsigned == 0:
                return (
                    f"The audit log is intact: {self.n_entries} entries, chain verified and every entry "
                    "signed by the site key."
                )
            signatures = self.signatures_text()
            return f"{text} {signatures[0].upper()}{signatures[1:]}"
        return f"The audit log's chain breaks at line {self.broken_line}: {self.reason}."


def _lines(first: int, last: int) -> str:
    return f"line {first}" if first == last else f"lines {first}-{last}"


def count_entries(path: str | Path) -> int:
    """Non-empty lines of the log at ``path`` (0 when missing): the ``seq`` the next entry gets.

    Raises
    ------
    AuditLogError
        The file exists but cannot be read.
    """
    path = Path(path)
    if not path.exists():
        return 0
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AuditLogError(path, f"cannot be read ({exc.strerror or exc})") from exc
    return sum(1 for line in raw.split(b"\n") if line.strip())


def _unreadable(line: bytes, torn: bool) -> str:
    """Why a line that is not JSON breaks the chain (``torn``: the last line, without its newline)."""
    if not line.strip():
        return "the line is empty"
    if torn:
        return (
            "the last line is incomplete: writing it was interrupted (the app or the computer stopped); "
            "every entry before it is intact"
        )
    return "the line is not valid JSON (edited or damaged)"


def _signature_problem(public, public_key: str, entry: dict) -> str:
    """Why ``entry`` is not signed by the site key ('' when it is)."""
    if "signature" not in entry:
        return "it is not signed by the site key (written without the key, or rewritten)"
    if entry.get("signer") != public_key.strip():
        return "it was signed by another key than the site key"
    if not _signature_ok(public, entry):
        return "its signature does not match its hash: the entry was rewritten and re-hashed"
    return ""


def verify_chain(path: str | Path, public_key: str | None = None, signed_from: int = 0) -> ChainReport:
    """Check every line of the log at ``path``: its hash, its link to the line before, and with
    ``public_key`` its Ed25519 signature (from entry ``signed_from`` on).

    A missing file is an empty, intact log.

    Parameters
    ----------
    path : str or Path
    public_key : str, optional
        The site's public key (:func:`public_key_text`). Given, every entry must be signed by it: an
        unsigned entry, another signer or a signature that does not match the entry's hash breaks
        the chain (a chain re-hashed without the private key fails here).
    signed_from : int
        With ``public_key``: the ``seq`` of the first entry written after the key was configured.
        Entries before it are verified as unsigned (hashes and links only) and reported as such
        (:attr:`ChainReport.n_unsigned`); 0 (default): every entry must be signed. A log with fewer
        entries than ``signed_from`` was cut short, which breaks the chain.

    Raises
    ------
    AuditLogError
        The file exists but cannot be read.
    ValueError
        ``public_key`` is not an Ed25519 public key.
    """
    path = Path(path)
    public = None if not public_key else _public_key(public_key)
    signed = public is not None
    signed_from = max(0, int(signed_from)) if signed else 0
    if not path.exists():
        return ChainReport(ok=True, n_entries=0, signed=signed, signed_from=signed_from)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise AuditLogError(path, f"cannot be read ({exc.strerror or exc})") from exc
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline that ends the last entry
    prev, n = GENESIS_HASH, 0
    for number, line in enumerate(lines, start=1):

        def broken(reason: str) -> ChainReport:
            return ChainReport(
                ok=False,
                n_entries=n,
                broken_line=number,
                reason=reason,
                last_hash=None if n == 0 else prev,
                signed=signed,
                signed_from=signed_from,
            )

        try:
            entry = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return broken(_unreadable(line, torn=number == len(lines) and not raw.endswith(b"\n")))
        if not isinstance(entry, dict) or "hash" not in entry or "prev_hash" not in entry:
            return broken("the line is not an audit entry (no hash fields)")
        if entry["prev_hash"] != prev:
            where = "the start of the log" if number == 1 else f"line {number - 1}"
            return broken(
                f"it does not follow {where}: a line before it was deleted, inserted or moved, "
                "or the line before it was edited"
            )
        if entry_hash(entry) != entry["hash"]:
            return broken("its content does not match its hash: the line was edited")
        if entry.get("seq") != n:
            return broken(f"its sequence number is {entry.get('seq')!r}, expected {n}")
        problem = _signature_problem(public, public_key, entry) if public is not None and n >= signed_from else ""
        if problem:
            return broken(problem)
        prev, n = entry["hash"], n + 1
    if n < signed_from:  # fewer entries than when the key was configured: the end was cut off
        return ChainReport(
            ok=False,
            n_entries=n,
            broken_line=n + 1,
            reason=f"the log ends at line {n}, but it had {signed_from} entries when the site key was configured: "
            "lines were removed from its end",
            last_hash=None if n == 0 else prev,
            signed=signed,
            signed_from=signed_from,
        )
    return ChainReport(ok=True, n_entries=n, last_hash=None if n == 0 else prev, signed=signed, signed_from=signed_from)


def read_entries(path: str | Path) -> list[dict]:
    """All entries of the log (no verification; see :func:`verify_chain`). Missing file -> [].

    Raises
    ------
    AuditLogError
        A line is not valid JSON.
    """
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise AuditLogError(path, f"line {number} is not valid JSON") from exc
    return out
