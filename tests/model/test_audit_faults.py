"""Issue 30: the audit log under faults and a late signing key.

* a site key configured on a log that already has unsigned entries: signing starts there, the
  entries before it verify as unsigned (and are reported so), every later one must be signed;
* the disk fills (or any write fails) during an append: nothing half-written stays, the log verifies;
* the process is killed during an append: the chain verifies, or names its torn last line;
* two processes append at once: the lock keeps one linear chain.
"""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model.record import audit
from model.record.audit import (
    AuditLogError,
    append_entry,
    decision_record,
    generate_signing_key,
    load_signing_key,
    verify_chain,
)

ROOT = Path(__file__).resolve().parents[2]


def _record(i, decision="impression"):
    return decision_record(
        decision=decision,
        reader="Dr Test",
        input_sha256=f"{i:064x}",
        model_name="m",
        weights_sha256="ab" * 32,
        probability=0.5,
        impression="normal",
    )


def _unsigned_log(path, n):
    for i in range(n):
        append_entry(path, _record(i))
    return path


# -- a signing key configured on a valid unsigned log ----------------------------------------------
def test_signing_starts_where_the_key_was_configured(tmp_path):
    from model.record.audit import count_entries

    log = _unsigned_log(tmp_path / "log.jsonl", 3)
    public = generate_signing_key(tmp_path / "keys" / "site.pem")
    key = load_signing_key(tmp_path / "keys" / "site.pem")
    start = count_entries(log)
    assert start == 3
    assert not verify_chain(log, public_key=public).ok  # before: line 1 "not signed", for ever

    report = verify_chain(log, public_key=public, signed_from=start)  # no signed entry yet
    assert report.ok and report.n_unsigned == 3
    assert "lines 1-3 were recorded before the site signing key was configured" in report.message().lower()

    for i in range(3, 5):
        append_entry(log, _record(i), signing_key=key)
    report = verify_chain(log, public_key=public, signed_from=start)
    assert report.ok and report.signed and report.n_entries == 5 and report.n_unsigned == 3
    message = report.message().lower()
    assert "lines 1-3 were recorded before the site signing key was configured and are unsigned" in message
    assert "lines 4-5 are signed by the site key" in message and "every entry" not in message
    assert "every entry is signed" not in report.signatures_text()

    lines = log.read_bytes().splitlines(keepends=True)
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(b"".join(lines[:2]))  # cut back to before the key, where nothing is signed
    report = verify_chain(cut, public_key=public, signed_from=start)
    assert not report.ok and report.broken_line == 3 and "lines were removed from its end" in report.reason

    append_entry(log, _record(5))  # an unsigned entry after the key: the chain breaks there
    report = verify_chain(log, public_key=public, signed_from=start)
    assert not report.ok and report.broken_line == 6 and "not signed by the site key" in report.reason


def test_the_unsigned_entries_before_the_key_are_sealed_by_the_first_signed_one(tmp_path):
    log = _unsigned_log(tmp_path / "log.jsonl", 3)
    public = generate_signing_key(tmp_path / "site.pem")
    append_entry(log, _record(3), signing_key=load_signing_key(tmp_path / "site.pem"))
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    entries[1]["impression"] = "injury"  # rewrite an unsigned entry and re-hash the unsigned part
    prev = audit.GENESIS_HASH
    for e in entries[:3]:
        e["prev_hash"] = prev
        e["hash"] = audit.entry_hash(e)
        prev = e["hash"]
    log.write_bytes(b"".join(audit.canonical_json(e) + b"\n" for e in entries))
    report = verify_chain(log, public_key=public, signed_from=3)
    assert not report.ok and report.broken_line == 4  # the signed entry no longer follows them


# -- disk full / permission denied during an append -------------------------------------------------
def test_disk_full_during_an_append_leaves_nothing_half_written(tmp_path, monkeypatch):
    log = _unsigned_log(tmp_path / "log.jsonl", 2)
    before = log.read_bytes()
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(audit.os, "write", half_then_full)
    with pytest.raises(AuditLogError, match="No space left on device.*nothing was added"):
        append_entry(log, _record(2))
    assert log.read_bytes() == before and verify_chain(log).ok
    monkeypatch.setattr(audit.os, "write", real_write)
    assert append_entry(log, _record(2))["seq"] == 2 and verify_chain(log).ok  # it goes on


def test_permission_denied_says_so_and_changes_nothing(tmp_path, monkeypatch):
    log = _unsigned_log(tmp_path / "audit" / "log.jsonl", 1)
    before = log.read_bytes()

    def denied(*_args, **_kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(audit, "open", denied, raising=False)  # the log's folder made read-only
    with pytest.raises(AuditLogError, match="cannot be opened for appending.*Permission denied"):
        append_entry(log, _record(1))
    assert log.read_bytes() == before


# -- killed during an append --------------------------------------------------------------------------
def test_a_torn_last_line_is_named(tmp_path):
    log = _unsigned_log(tmp_path / "log.jsonl", 3)
    line = audit.canonical_json({"seq": 3, "decision": "accept", "hash": "x" * 64})
    with open(log, "ab") as fh:
        fh.write(line[: len(line) // 2])  # what a process killed in the middle of a write leaves
    report = verify_chain(log)
    assert not report.ok and report.broken_line == 4 and report.n_entries == 3
    assert "last line is incomplete" in report.reason and "every entry before it is intact" in report.reason
    with pytest.raises(AuditLogError, match="last line"):
        append_entry(log, _record(4))  # nothing is chained onto a torn line


APPENDER = """
import sys
from model.record.audit import append_entry, decision_record
path, n, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    append_entry(path, decision_record(decision="impression", reader=tag, input_sha256=None, model_name=None,
                 weights_sha256=None, probability=None, impression="normal", reason="x" * 2000))
    if i == 0:
        print("started", flush=True)
"""


def _appender(log, n, tag):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(log), str(n), tag], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )


@pytest.mark.slow
def test_killed_during_appends_the_chain_verifies_or_names_the_torn_line(tmp_path):
    log = tmp_path / "log.jsonl"
    proc = _appender(log, 100_000, "killed")
    assert proc.stdout.readline().strip() == "started"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    report = verify_chain(log)
    lines = log.read_bytes().split(b"\n")
    assert report.n_entries >= 1
    assert report.ok or (report.broken_line == len([x for x in lines if x]) and "incomplete" in report.reason)


@pytest.mark.slow
def test_two_processes_appending_at_once_keep_one_chain(tmp_path):
    log = tmp_path / "log.jsonl"
    procs = [_appender(log, 60, tag) for tag in ("first", "second")]
    for proc in procs:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
    report = verify_chain(log)
    entries = audit.read_entries(log)
    assert report.ok and report.n_entries == 120
    assert [e["seq"] for e in entries] == list(range(120))
    assert {e["reader"] for e in entries} == {"first", "second"}
