"""The reader's agreement with a located finding as an audit entry (issue 29)."""

from __future__ import annotations

import pytest

from model.record.audit import append_entry, decision_record, verify_chain


def _finding(**kw):
    record = dict(
        decision="finding",
        reader="Dr Test",
        input_sha256="ab" * 32,
        model_name=None,
        weights_sha256=None,
        probability=None,
        finding={"agreed": True, "kind": "cystic lesion", "key": "k", "location_ras_mm": [1.0, 2.0, 3.0]},
    )
    record.update(kw)
    return decision_record(**record)


def test_a_finding_entry_carries_the_finding_and_chains(tmp_path):
    entry = append_entry(tmp_path / "log.jsonl", _finding())
    assert entry["decision"] == "finding" and entry["finding"]["agreed"] is True
    assert entry["finding"]["location_ras_mm"] == [1.0, 2.0, 3.0]
    assert verify_chain(tmp_path / "log.jsonl").ok


def test_a_finding_entry_needs_its_finding_and_only_it():
    with pytest.raises(ValueError, match="needs its finding"):
        _finding(finding=None)
    with pytest.raises(ValueError, match="agreed"):
        _finding(finding={"kind": "cystic lesion"})
    with pytest.raises(ValueError, match="needs its finding"):
        _finding(decision="impression", impression="normal")
