"""The audit log: entries chain by SHA-256; verification names the line where tampering happened."""

import json

import pytest

from model.record.audit import (
    GENESIS_HASH,
    AuditLogError,
    append_entry,
    decision_record,
    entry_hash,
    read_entries,
    verify_chain,
)


def _record(i, decision="accept", **kw):
    fields = dict(
        decision=decision,
        reader="Dr Test",
        input_sha256=f"{i:064x}",
        model_name="m",
        weights_sha256="ab" * 32,
        probability=0.1 * i,
        time_utc=f"2025-01-0{i + 1}T00:00:00+00:00",
    )
    fields.update(kw)
    return decision_record(**fields)


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "audit" / "log.jsonl"  # the folder is created on first append
    for i in range(5):
        append_entry(path, _record(i))
    return path


def _lines(path):
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_entries_chain_from_genesis_and_verify(log):
    entries = read_entries(log)
    assert [e["seq"] for e in entries] == [0, 1, 2, 3, 4]
    assert entries[0]["prev_hash"] == GENESIS_HASH
    for before, after in zip(entries, entries[1:]):
        assert after["prev_hash"] == before["hash"]
    for e in entries:
        assert e["hash"] == entry_hash(e) and len(e["hash"]) == 64
    report = verify_chain(log)
    assert report.ok and report.n_entries == 5 and report.broken_line is None
    assert report.last_hash == entries[-1]["hash"]
    assert "intact" in report.message() and "5 entries" in report.message()


def test_entry_carries_the_audit_fields(log):
    e = read_entries(log)[2]
    for key in (
        "time_utc",
        "reader",
        "input_sha256",
        "model_name",
        "weights_sha256",
        "probability",
        "decision",
        "reason",
        "impression",
        "prev_hash",
        "hash",
    ):
        assert key in e
    assert e["reader"] == "Dr Test" and e["decision"] == "accept" and e["probability"] == pytest.approx(0.2)


def test_an_edited_line_is_found(log):
    lines = _lines(log)
    entry = json.loads(lines[2])
    entry["probability"] = 0.99  # a changed probability, hash left as it was
    lines[2] = json.dumps(entry) + "\n"
    log.write_text("".join(lines), encoding="utf-8")
    report = verify_chain(log)
    assert not report.ok and report.broken_line == 3 and report.n_entries == 2
    assert "edited" in report.reason and "line 3" in report.message()


def test_an_edited_line_with_a_recomputed_hash_breaks_the_next_link(log):
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry["decision"] = "reject"
    entry["hash"] = entry_hash(entry)  # a forger recomputes this line's hash, not the rest
    lines[1] = json.dumps(entry) + "\n"
    log.write_text("".join(lines), encoding="utf-8")
    report = verify_chain(log)
    assert not report.ok and report.broken_line == 3 and "line 2" in report.reason


def test_a_deleted_line_is_found(log):
    lines = _lines(log)
    del lines[1]
    log.write_text("".join(lines), encoding="utf-8")
    report = verify_chain(log)
    assert not report.ok and report.broken_line == 2 and "deleted" in report.reason


def test_a_deleted_first_line_is_found(log):
    log.write_text("".join(_lines(log)[1:]), encoding="utf-8")
    report = verify_chain(log)
    assert not report.ok and report.broken_line == 1 and "start of the log" in report.reason


def test_reordered_lines_are_found(log):
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    log.write_text("".join(lines), encoding="utf-8")
    report = verify_chain(log)
    assert not report.ok and report.broken_line == 3


def test_garbage_and_blank_lines_are_found(log):
    lines = _lines(log)
    log.write_text("".join(lines[:4]) + "\n" + lines[4], encoding="utf-8")
    assert verify_chain(log).broken_line == 5
    log.write_text("".join(lines[:1]) + "{not json\n" + "".join(lines[1:]), encoding="utf-8")
    report = verify_chain(log)
    assert report.broken_line == 2 and "JSON" in report.reason


def test_missing_log_is_empty_and_intact(tmp_path):
    report = verify_chain(tmp_path / "none.jsonl")
    assert report.ok and report.n_entries == 0 and read_entries(tmp_path / "none.jsonl") == []


def test_appending_after_a_damaged_last_line_refuses(log):
    with open(log, "a", encoding="utf-8") as fh:
        fh.write("{damaged\n")
    with pytest.raises(AuditLogError, match="last line"):
        append_entry(log, _record(9))


def test_appending_continues_the_chain_and_keeps_earlier_bytes(log):
    before = log.read_bytes()
    entry = append_entry(log, _record(5, decision="override", override_call="injury", reason="PVL on axial 40"))
    assert log.read_bytes().startswith(before)
    assert entry["seq"] == 5 and entry["prev_hash"] == read_entries(log)[4]["hash"]
    assert verify_chain(log).ok


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(decision="maybe"), "decision"),
        (dict(decision="override"), "override"),
        (dict(decision="accept", override_call="normal"), "override_call"),
        (dict(decision="impression", impression=None), "impression"),
        (dict(decision="impression", impression="fine"), "impression"),
        (dict(decision="accept", reader="  "), "reader"),
        (dict(decision="accept", probability=None), "AI result"),
    ],
)
def test_invalid_records_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _record(0, **kwargs)


def test_reserved_fields_cannot_be_smuggled_in(tmp_path):
    with pytest.raises(ValueError, match="hash"):
        append_entry(tmp_path / "log.jsonl", {"hash": "0" * 64})


# -- signatures: a chain re-hashed by someone without the site key ------------------------------------
def _rehash_attack(path, line_index, **changes):
    """Rewrite one entry and recompute every hash after it: what an attacker with a text editor and
    ten lines of Python does. Signatures are kept as they were (the attacker has no private key)."""
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    entries[line_index].update(changes)
    prev = entries[0]["prev_hash"]
    for e in entries:
        e["prev_hash"] = prev
        e["hash"] = entry_hash(e)
        prev = e["hash"]
    path.write_text(
        "".join(json.dumps(e, sort_keys=True, separators=(",", ":")) + "\n" for e in entries), encoding="utf-8"
    )


def test_rehash_attack_is_caught_with_a_site_key(tmp_path):
    from model.record.audit import generate_signing_key, load_signing_key

    public = generate_signing_key(tmp_path / "keys" / "site.pem")
    key = load_signing_key(tmp_path / "keys" / "site.pem")
    path = tmp_path / "log.jsonl"
    for i in range(4):
        append_entry(path, _record(i), signing_key=key)
    intact = verify_chain(path, public_key=public)
    assert intact.ok and intact.signed and "signed by the site key" in intact.message()

    _rehash_attack(path, 1, decision="reject")
    assert verify_chain(path).ok  # the hashes alone are fooled
    report = verify_chain(path, public_key=public)
    assert not report.ok and report.broken_line == 2
    assert "signature does not match" in report.message()


def test_stripping_signatures_or_another_key_is_caught(tmp_path):
    from model.record.audit import generate_signing_key, load_signing_key

    public = generate_signing_key(tmp_path / "site.pem")
    other = generate_signing_key(tmp_path / "other.pem")
    path = tmp_path / "log.jsonl"
    append_entry(path, _record(0), signing_key=load_signing_key(tmp_path / "site.pem"))
    append_entry(path, _record(1))  # unsigned
    report = verify_chain(path, public_key=public)
    assert not report.ok and report.broken_line == 2 and "not signed" in report.reason
    assert not verify_chain(path, public_key=other).ok
    assert verify_chain(path, public_key=other).broken_line == 1


def test_rehash_attack_without_a_key_is_explained_not_hidden(tmp_path):
    from model.record.audit import UNSIGNED_CAVEAT

    path = tmp_path / "log.jsonl"
    for i in range(3):
        append_entry(path, _record(i))
    _rehash_attack(path, 0, decision="reject")
    report = verify_chain(path)
    assert report.ok and not report.signed  # cannot be detected without a key ...
    assert UNSIGNED_CAVEAT in report.message()  # ... and the reader is told so
    assert "not deliberate rewriting" in report.message()


def test_signing_key_file_is_private_and_never_replaced(tmp_path):
    import stat

    from model.record.audit import generate_signing_key, load_signing_key

    key_path = tmp_path / "site.pem"
    generate_signing_key(key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    with pytest.raises(AuditLogError, match="never replaced"):
        generate_signing_key(key_path)
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(AuditLogError, match="bad.pem"):
        load_signing_key(tmp_path / "bad.pem")


def test_chain_note_pma_and_measurement_are_recorded(tmp_path):
    path = tmp_path / "log.jsonl"
    entry = append_entry(
        path,
        _record(
            0,
            decision="measurement",
            probability=None,
            pma_weeks=39.54,
            chain_note="line 3 edited",
            measurement={
                "measure": "atrial_width",
                "length_mm": 7.1234,
                "plane": "axial",
                "from_ijk": [1, 2, 3],
                "to_ijk": [4, 5, 6],
            },
        ),
    )
    assert entry["measurement"]["length_mm"] == 7.123 and entry["pma_weeks"] == 39.5
    assert entry["chain_note"] == "line 3 edited"
    assert verify_chain(path).ok
    with pytest.raises(ValueError, match="measure must be"):
        _record(0, decision="measurement", measurement={"measure": "head", "length_mm": 1})
