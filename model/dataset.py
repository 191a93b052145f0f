"""Training data: the manifest CSV, validated before any training starts, and the preprocessed cache.

Manifest format: a CSV with header ``path,label[,subject]``; ``path`` relative to the CSV's folder
or absolute; ``label`` 0 (normal) or 1 (injury); ``subject`` groups scans of one infant so they are
never split across training and evaluation (defaults to the file name without extension).
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
    """One row of a manifest."""

    path: Path
    label: int
    subject: str


def read_manifest(manifest: str | Path) -> list[Case]:
    """Parse and check a manifest CSV.

    Every problem is collected (missing files, bad labels, a single class, a subject with two
    different labels) and reported together before any training starts.

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
        cases.append(Case(path=path, label=int(label_text), subject=subject))
    labels_by_subject: dict[str, set] = {}
    for c in cases:
        labels_by_subject.setdefault(c.subject, set()).add(c.label)
    for subject, labels in sorted(labels_by_subject.items()):
        if len(labels) > 1:
            problems.append(f"subject {subject} has scans with both labels")
    if cases and len({c.label for c in cases}) < 2:
        problems.append(f"only one class present (label {cases[0].label}); training needs normal and injury cases")
    if not rows:
        problems.append("no rows")
    if problems:
        raise ManifestError(f"{manifest}: " + "; ".join(problems[:20]) + (" ..." if len(problems) > 20 else ""))
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
