"""Training data: a manifest CSV or a BIDS folder, validated before any training starts, and the
preprocessed cache.

Manifest format: a CSV with header ``path,label[,subject,session,group]``; ``path`` relative to the
CSV's folder or absolute; ``label`` 0 (normal) or 1 (injury); ``subject`` groups scans of one infant
so they are never split across folds (defaults to the file name without extension); ``session`` and
``group`` (e.g. site) are carried into the out-of-fold predictions.

BIDS: ``*_T2w`` scans found by :func:`model.score.discover`; the label comes from a numeric column
(e.g. dHCP ``radiology_score``) of ``sub-*/sub-*_sessions.tsv`` (per session) or, failing that,
``participants.tsv``; ``value >= injury_threshold`` is injury.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.errors import GloResNetError, ScanError
from model.preprocessing import PreprocessConfig, preprocess
from model.volume import load_volume


class ManifestError(GloResNetError):
    """The manifest cannot be used; the message lists every problem found."""


@dataclass(frozen=True)
class Case:
    """One labelled scan."""

    path: Path
    label: int
    subject: str
    session: str = ""
    group: str = ""


def read_manifest(manifest: str | Path) -> list[Case]:
    """Parse and check a manifest CSV.

    Every problem is collected (missing files, bad labels, a scan listed twice, a duplicated
    subject/session, a single class) and reported together before any training starts.

    Raises
    ------
    ManifestError
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise ManifestError(f"{manifest}: manifest not found")
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if "path" not in header or "label" not in header:
            raise ManifestError(f"{manifest}: header must contain 'path' and 'label' (got {header})")
        rows = list(reader)
    problems, cases = [], []
    for line, row in enumerate(rows, start=2):
        raw_path = (row.get("path") or "").strip()
        path = Path(raw_path)
        if not path.is_absolute():
            path = manifest.parent / path
        label_text = (row.get("label") or "").strip()
        if label_text not in ("0", "1"):
            problems.append(f"line {line}: label must be 0 or 1 (got {label_text!r})")
            continue
        if not raw_path or not path.is_file():
            problems.append(f"line {line}: file not found: {path}")
            continue
        subject = (row.get("subject") or "").strip() or path.name.split(".")[0]
        cases.append(
            Case(
                path=path,
                label=int(label_text),
                subject=subject,
                session=(row.get("session") or "").strip(),
                group=(row.get("group") or "").strip(),
            )
        )
    if not rows:
        problems.append("no rows")
    _check_cases(cases, problems)
    if problems:
        raise ManifestError(f"{manifest}: " + "; ".join(problems[:20]) + (" ..." if len(problems) > 20 else ""))
    return cases


def _check_cases(cases: list[Case], problems: list[str]) -> None:
    """Append problems that concern the set of cases: duplicates, label conflicts, one class."""
    seen_paths, seen_visits = {}, {}
    for c in cases:
        if c.path.resolve() in seen_paths:
            problems.append(f"{c.path} is listed twice")
        seen_paths[c.path.resolve()] = c
        visit = (c.subject, c.session)
        if visit in seen_visits:
            problems.append(
                f"duplicate subject {c.subject}"
                + (f" session {c.session}" if c.session else "")
                + f": {seen_visits[visit].path.name} and {c.path.name}"
            )
        seen_visits[visit] = c
    if cases and len({c.label for c in cases}) < 2:
        problems.append(f"only one class present (label {cases[0].label}); training needs normal and injury cases")


def _read_tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def read_bids(folder: str | Path, labels_from: str, injury_threshold: float) -> list[Case]:
    """Labelled T2w scans of a BIDS dataset.

    Parameters
    ----------
    folder : str or Path
        BIDS root with ``participants.tsv`` and/or ``sub-*/sub-*_sessions.tsv``.
    labels_from : str
        Numeric column holding the score (e.g. ``radiology_score``).
    injury_threshold : float
        ``score >= injury_threshold`` is injury (dHCP radiology score >= 3 in the paper).

    Raises
    ------
    ManifestError
        No scans, no score for a scan, non-numeric scores, or the problems of a manifest.
    """
    from model.bids import discover  # one discovery implementation for scoring and training

    folder = Path(folder)
    if not folder.is_dir():
        raise ManifestError(f"{folder}: BIDS folder not found")
    participants = {}
    if (folder / "participants.tsv").is_file():
        participants = {r.get("participant_id", ""): r for r in _read_tsv(folder / "participants.tsv")}
    problems, cases = [], []
    entries = discover(folder, bids=True)
    if not entries:
        raise ManifestError(f"{folder}: no sub-*/[ses-*/]anat/*_T2w.nii[.gz] scans found")
    sessions_cache: dict[str, dict] = {}
    for e in entries:
        sub, ses = f"sub-{e.subject}", (f"ses-{e.session}" if e.session else "")
        if sub not in sessions_cache:
            tsv = folder / sub / f"{sub}_sessions.tsv"
            sessions_cache[sub] = {r.get("session_id", ""): r for r in _read_tsv(tsv)} if tsv.is_file() else {}
        row = sessions_cache[sub].get(ses) if ses else None
        value = (row or {}).get(labels_from) or participants.get(sub, {}).get(labels_from)
        if value in (None, "", "n/a", "NA"):
            problems.append(f"no {labels_from} for {sub}{' ' + ses if ses else ''}")
            continue
        try:
            score = float(value)
        except ValueError:
            problems.append(f"{labels_from} of {sub} is not a number ({value!r})")
            continue
        cases.append(Case(path=e.path, label=int(score >= injury_threshold), subject=sub, session=ses))
    _check_cases(cases, problems)
    if problems:
        raise ManifestError(f"{folder}: " + "; ".join(problems[:20]) + (" ..." if len(problems) > 20 else ""))
    return cases


def preprocess_cases(cases: list[Case], cfg: PreprocessConfig, progress=None) -> tuple[torch.Tensor, list[str]]:
    """Load and preprocess every case once (the training cache).

    Returns
    -------
    inputs : torch.Tensor, shape (N, 1) + cfg.target_shape, float32
        Rows for readable scans only.
    problems : list of str
        One line per unreadable scan (ScanError message).
    """
    out, problems = [], []
    iterator = progress(cases) if progress else cases
    for case in iterator:
        try:
            out.append(preprocess(load_volume(case.path, compute_hash=False).data, cfg)[0])
        except ScanError as exc:
            problems.append(str(exc))
    inputs = torch.stack(out) if out else torch.empty((0, 1) + tuple(cfg.target_shape))
    return inputs, problems


def class_weights(labels: np.ndarray, n_classes: int = 2) -> np.ndarray:
    """w_k = N / (n_classes * N_k) (paper Eq. 11), float32, shape (n_classes,)."""
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    if np.any(counts == 0):
        raise ValueError(f"every class needs at least one case (counts {counts.tolist()})")
    return (len(labels) / (n_classes * counts)).astype(np.float32)
