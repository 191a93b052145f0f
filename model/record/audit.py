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

Nothing here imports Qt; where the log lives is the caller's choice (the viewer uses the user's
application-data folder).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from model.errors import GloResNetError
from model.timestamps import utc_now
from model.vocabulary import AI_DECISIONS, DECISIONS, IMPRESSIONS, OVERRIDE_CALLS

try:  # POSIX advisory lock: two app windows appending at once keep the chain linear
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: File name of the log inside the application-data folder.
AUDIT_FILE_NAME = "audit-log.jsonl"
#: ``prev_hash`` of the first entry.
GENESIS_HASH = "0" * 64
#: Version of the entry layout (for readers of old logs).
ENTRY_FORMAT = 1


class AuditLogError(GloResNetError):
    """The audit log cannot be read or appended to (the path and the reason)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def canonical_json(entry: dict) -> bytes:
    """The bytes that are hashed: keys sorted, no insignificant whitespace, UTF-8."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(entry: dict) -> str:
    """SHA-256 (hex) of ``entry`` without its ``hash`` field (``prev_hash`` included)."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def decision_record(
    *,
    decision: str,
    reader: str,
    input_sha256: str | None,
    model_name: str | None,
    weights_sha256: str | None,
    probability: float | None,
    impression: str | None = None,
    reason: str = "",
    override_call: str | None = None,
    ai_shown: bool = True,
    model_version: str | None = None,
    threshold: float | None = None,
    flag: str | None = None,
    time_utc: str | None = None,
    in_distribution: bool | None = None,
    ood_reasons: list | None = None,
) -> dict:
    """One decision as a dict ready for :func:`append_entry` (validated, JSON-safe).

    Parameters
    ----------
    decision : str
        One of :data:`DECISIONS`: ``"impression"`` records the reader's own read (before or
        without the AI result); ``"accept"`` / ``"reject"`` the AI result; ``"override"`` replaces
        the AI's call with ``override_call``.
    reader : str
        Reader's name (from the app's settings); must not be empty.
    input_sha256 : str or None
        SHA-256 of the scan file's bytes (None for an in-memory scan).
    model_name, weights_sha256, model_version : str or None
        Which model produced the result (None when there is none yet).
    probability : float or None
        P(injury) of the result (None when there is none).
    impression : str or None
        The reader's impression (:data:`IMPRESSIONS`) when one was recorded.
    reason : str
        Optional free text.
    override_call : str or None
        ``"normal"`` or ``"injury"``; required for ``"override"``.
    ai_shown : bool
        Whether the AI result was visible to the reader when deciding (reader-first mode hides it
        until an impression is recorded).
    threshold : float, optional
        Decision threshold of the model card; ``flag`` which side of it the result was.
    time_utc : str, optional
        Default: now (:func:`utc_now`).
    in_distribution, ood_reasons : bool and list of str, optional
        The out-of-distribution verdict of the result (:mod:`model.ood`); None when there is none.

    Raises
    ------
    ValueError
        Unknown decision or impression, empty reader, override without a call.
    """
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
    if impression is not None and impression not in IMPRESSIONS:
        raise ValueError(f"impression must be one of {IMPRESSIONS}, got {impression!r}")
    if decision == "impression" and impression is None:
        raise ValueError("an impression entry needs the impression")
    if decision == "override" and override_call not in OVERRIDE_CALLS:
        raise ValueError(f"an override needs the reader's call 'normal' or 'injury', got {override_call!r}")
    if decision != "override" and override_call is not None:
        raise ValueError("override_call is only for decision='override'")
    if decision in AI_DECISIONS and probability is None:
        raise ValueError(f"{decision!r} needs an AI result (probability)")
    if not str(reader).strip():
        raise ValueError("the reader's name is empty")
    return {
        "format": ENTRY_FORMAT,
        "time_utc": time_utc or utc_now(),
        "reader": str(reader).strip(),
        "input_sha256": input_sha256,
        "model_name": model_name,
        "model_version": model_version,
        "weights_sha256": weights_sha256,
        "probability": None if probability is None else round(float(probability), 6),
        "threshold": None if threshold is None else float(threshold),
        "flag": flag,
        "ai_shown": bool(ai_shown),
        "impression": impression,
        "decision": decision,
        "override_call": override_call,
        "reason": str(reason or "").strip(),
        "in_distribution": None if in_distribution is None else bool(in_distribution),
        "ood_reasons": [str(r) for r in (ood_reasons or [])],
    }


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


def append_entry(path: str | Path, record: dict) -> dict:
    """Append ``record`` to the log at ``path`` (created with its folder), chained to the last entry.

    Parameters
    ----------
    path : str or Path
    record : dict
        JSON-serialisable fields, e.g. from :func:`decision_record`; must not contain ``seq``,
        ``prev_hash`` or ``hash``.

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
    reserved = {"seq", "prev_hash", "hash"} & set(record)
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
        entry["hash"] = entry_hash(entry)
        line = canonical_json(entry) + b"\n"
        try:
            fh.seek(0, os.SEEK_END)
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        except OSError as exc:
            raise AuditLogError(path, f"cannot be written ({exc.strerror or exc})") from exc
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
    """

    ok: bool
    n_entries: int
    broken_line: int | None = None
    reason: str = ""
    last_hash: str | None = None

    def message(self) -> str:
        """One line for the reader."""
        if self.ok:
            if self.n_entries == 0:
                return "The audit log is empty."
            return f"The audit log is intact: {self.n_entries} entries, chain verified."
        return f"The audit log's chain breaks at line {self.broken_line}: {self.reason}."


def verify_chain(path: str | Path) -> ChainReport:
    """Check every line of the log at ``path``: its hash, and its link to the line before.

    A missing file is an empty, intact log.

    Raises
    ------
    AuditLogError
        The file exists but cannot be read.
    """
    path = Path(path)
    if not path.exists():
        return ChainReport(ok=True, n_entries=0)
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
                ok=False, n_entries=n, broken_line=number, reason=reason, last_hash=None if n == 0 else prev
            )

        try:
            entry = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return broken("the line is not valid JSON (edited or damaged)" if line.strip() else "the line is empty")
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
        prev, n = entry["hash"], n + 1
    return ChainReport(ok=True, n_entries=n, last_hash=None if n == 0 else prev)


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
