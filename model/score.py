"""Batch scoring: a folder of scans -> a worklist (CSV), as a cancellable generator and a CLI.

``python -m model.score FOLDER --out results.csv [--weights DIR] [--device cpu|cuda] [--cams DIR]``

:func:`discover` finds scans recursively (``.nii``/``.nii.gz``); in a BIDS dataset only
``sub-*/[ses-*/]anat/*_T2w.nii[.gz]`` outside ``derivatives/`` and ``sourcedata/``, with subject and
session columns. :func:`score_steps` scores them: loader threads read, hash, check and preprocess
the next scans while the network works on the current ones (a bounded window, so memory stays flat),
every failure becomes a row with its reason, and cases already scored with the same weights (matched
by the input file's SHA-256 and the weights' SHA-256) are kept and skipped. Stop iterating to cancel:
everything finished so far is kept. The GUI's batch dialog wraps the same generator.

Exit codes of the CLI: 0 every file scored, 1 some files failed (reasons in the CSV), 2 usage error
(bad arguments, missing folder, unusable weights), 130 interrupted (partial results written).

The batch policy is here too, so the CLI and the GUI's batch dialog follow the same rules:
:func:`heatmaps_folder_problem` refuses a heatmaps folder inside the scans folder, and
:func:`merge_worklist` keeps the rows of earlier runs for files a run did not reach.
"""

from __future__ import annotations

import argparse
import csv
import io
import logging
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator, Iterable

import torch

from model import DEFAULT_WEIGHTS_DIR
from model.bids import ScanEntry, discover
from model.checkpoint import LoadedModel, load_weights
from model.dicom import load_series, row_columns
from model.errors import GloResNetError, ScanError
from model.fileio import save_nifti_atomic, write_bytes_atomic
from model.inference import analyse, select_device, tta_forward, tta_mean
from model.ood import OODVerdict, capture_features, feature_verdict, rule_reasons, statistics_from
from model.preprocessing import preprocess
from model.quality import quality_warnings
from model.timestamps import utc_now
from model.vocabulary import Flag, flag_for
from model.volume import Volume, load_volume

log = logging.getLogger("model.score")

#: Worklist columns, in order (documented in README.md).
COLUMNS = [
    "file",
    "subject",
    "session",
    "status",
    "p_injury",
    "p_injury_identity",
    "p_injury_flipped",
    "tta_disagreement",
    "flag",
    "in_distribution",
    "quality_warnings",
    "reason",
    "input_sha256",
    "weights_sha256",
    "model",
    "cam_file",
    "scored_utc",
    # out-of-distribution gate (model.ood)
    "ood_score",
    "ood_threshold",
    "ood_reasons",
    # DICOM series (empty for NIfTI files); see model.dicom.row_columns
    "patient_id",
    "study_date",
    "study_uid",
    "series_uid",
    "series_description",
    "dicom_export",
]
EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: Why a heatmaps folder inside the scans folder is refused (the CLI and the dialog say the same).
HEATMAPS_INSIDE_INPUT = (
    "heatmaps cannot go into the scans folder (they would be found and scored as scans next "
    "time); choose another folder"
)


# -- batch policy: the rules the CLI and the GUI's batch dialog share ------------------------------
def is_inside(path: str | Path, folder: str | Path) -> bool:
    """True when ``path`` is ``folder`` or lies anywhere below it (both resolved, links followed)."""
    path, folder = Path(path).resolve(), Path(folder).resolve()
    return path == folder or folder in path.parents


def heatmaps_folder_problem(cams_dir: str | Path | None, scans_folder: str | Path) -> str | None:
    """Why ``cams_dir`` cannot hold the heatmaps of a batch over ``scans_folder``, or None when it can.

    Heatmaps are NIfTI files; written anywhere inside the scans folder they would be discovered as
    scans by the next run. We never write into input folders.
    """
    if cams_dir is not None and is_inside(cams_dir, scans_folder):
        return HEATMAPS_INSIDE_INPUT
    return None


def merge_worklist(rows: list[dict], previous: list[dict]) -> list[dict]:
    """This run's ``rows``, then the earlier rows of files this run did not reach (by ``file``).

    What an interrupted, cancelled or partial run writes: nothing scored before is lost, and a file
    reached again is replaced by its new row.
    """
    reached = {r.get("file") for r in rows}
    return list(rows) + [r for r in previous if r.get("file") not in reached]


def read_worklist(path: str | Path) -> list[dict]:
    """Rows of a worklist CSV written by :func:`write_worklist` (empty list when absent)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_worklist(path: str | Path, rows: Iterable[dict]) -> None:
    """Write worklist rows as CSV (columns :data:`COLUMNS`) atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_bytes_atomic(path, buf.getvalue().encode("utf-8"))


@dataclass
class _Loaded:
    entry: ScanEntry
    sha256: str = ""
    volume: Volume | None = None
    inputs: torch.Tensor | None = None
    warnings: list = field(default_factory=list)
    ood_reasons: list = field(default_factory=list)
    error: str = ""
    exported: str = ""


@dataclass
class ScoreEvent:
    """One finished case: ``row`` (worklist dict), ``done``/``total`` counts, ``skipped``."""

    row: dict
    done: int
    total: int
    skipped: bool


@dataclass
class ScoreSummary:
    """Counts at the end of a run (or at cancel)."""

    total: int
    scored: int = 0
    skipped: int = 0
    failed: int = 0
    rows: list = field(default_factory=list)
    seconds: float = 0.0


def _cam_name(entry: ScanEntry) -> str:
    rel = entry.relpath
    for suffix in (".nii.gz", ".nii"):
        if rel.lower().endswith(suffix):
            rel = rel[: -len(suffix)]
            break
    return rel + "_cam.nii.gz"


def _row(entry: ScanEntry, **values) -> dict:
    row = {c: "" for c in COLUMNS}
    row.update(file=entry.relpath, subject=entry.subject, session=entry.session)
    row.update(row_columns(entry.series))  # DICOM identifiers (issue 9)
    row.update({k: v for k, v in values.items()})
    return row


def score_steps(
    entries: list[ScanEntry],
    loaded: LoadedModel,
    *,
    previous: list[dict] | None = None,
    cams_dir: str | Path | None = None,
    batch_size: int | None = None,
    loader_threads: int = 2,
    prefetch: int = 4,
    dicom_out: str | Path | None = None,
) -> Generator[ScoreEvent, None, ScoreSummary]:
    """Score ``entries`` one by one (or in batches on CUDA), yielding an event per finished case.

    Parameters
    ----------
    entries : list of ScanEntry
        From :func:`discover`.
    loaded : LoadedModel
        Weights; the network's device is used.
    previous : list of dict, optional
        Rows of an earlier worklist; a case whose input SHA-256 and weights SHA-256 match a row
        with status ``scored`` is not scored again (that row is kept, ``skipped=True``).
    cams_dir : path, optional
        Write each Grad-CAM heatmap here as ``<relative path>_cam.nii.gz`` on the input's grid.
        Never defaults to the input folder.
    batch_size : int, optional
        Cases per forward pass; default 4 on CUDA, 1 on CPU (no gain there). Ignored with cams.
    loader_threads, prefetch : int
        Loader threads, and how many cases may be loaded ahead (bounds memory).
    dicom_out : path, optional
        Write a DICOM SR + SC for each DICOM series here (:func:`model.record.dicom_export.export_dicom`);
        this computes Grad-CAM for every case. Never the input folder (the CLI checks).

    Yields
    ------
    ScoreEvent

    Returns
    -------
    ScoreSummary
    """
    t0 = time.perf_counter()
    model, card = loaded.model, loaded.card
    device = next(model.parameters()).device
    batch_size = batch_size or (4 if device.type == "cuda" else 1)
    weights_sha = card.weights_sha256
    done_before = {
        r["input_sha256"]: r
        for r in (previous or [])
        if r.get("status") == "scored" and r.get("weights_sha256") == weights_sha and r.get("input_sha256")
    }
    with_cam = cams_dir is not None or dicom_out is not None
    summary = ScoreSummary(total=len(entries))

    def load(entry: ScanEntry) -> _Loaded:
        return _load_case(entry, card.preprocessing, done_before, keep_volume=with_cam)

    pool = ThreadPoolExecutor(max_workers=max(1, loader_threads), thread_name_prefix="scan-loader")
    pending: deque[Future] = deque()
    queue = iter(entries)

    def refill():
        while len(pending) < max(prefetch, batch_size):
            entry = next(queue, None)
            if entry is None:
                return
            pending.append(pool.submit(load, entry))

    def finish(row: dict, skipped: bool = False) -> ScoreEvent:
        summary.rows.append(row)
        status = "skipped" if skipped else row["status"]
        setattr(summary, status, getattr(summary, status) + 1)
        return ScoreEvent(row=row, done=len(summary.rows), total=summary.total, skipped=skipped)

    try:
        refill()
        while pending:
            batch: list[_Loaded] = []
            while pending and len(batch) < batch_size:
                item = pending.popleft().result()
                refill()
                if item.error:
                    yield finish(
                        _row(
                            item.entry,
                            status="failed",
                            reason=item.error,
                            weights_sha256=weights_sha,
                            model=f"{card.name} {card.version}",
                        )
                    )
                elif item.sha256 in done_before:
                    old = dict(done_before[item.sha256])
                    old.update(file=item.entry.relpath, subject=item.entry.subject, session=item.entry.session)
                    old.update(row_columns(item.entry.series))
                    yield finish(old, skipped=True)
                else:
                    batch.append(item)
            if not batch:
                continue
            for item, (p1, p2), cam_file, verdict in _score_batch(batch, loaded, cams_dir, dicom_out, with_cam):
                yield finish(_scored_row(item, p1, p2, cam_file, card, verdict))
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        summary.seconds = time.perf_counter() - t0
    return summary


def _load_case(entry: ScanEntry, preprocessing, done_before: dict, keep_volume: bool) -> _Loaded:
    """Read, hash, check and preprocess one scan (in a loader thread); a bad file sets ``error``."""
    item = _Loaded(entry)
    try:
        volume = load_series(entry.series) if entry.series is not None else load_volume(entry.path)
    except ScanError as exc:
        item.error = exc.reason
        return item
    except MemoryError:
        item.error = "too large to load into memory"
        return item
    item.sha256 = volume.sha256 or ""
    if item.sha256 in done_before:
        return item
    item.warnings = quality_warnings(volume)
    item.ood_reasons = rule_reasons(volume)
    if keep_volume:
        item.volume = volume
    else:
        item.inputs = preprocess(volume.data, preprocessing)
    return item


def _score_batch(
    batch: list[_Loaded],
    loaded: LoadedModel,
    cams_dir: str | Path | None,
    dicom_out: str | Path | None = None,
    with_cam: bool = False,
) -> list:
    """``[(item, (p_identity, p_flipped), cam_file, verdict)]`` for loaded cases.

    With ``with_cam`` each case runs the full analysis (Grad-CAM): the heatmap is written when
    ``cams_dir`` is given and DICOM series get an SR + SC in ``dicom_out``. ``verdict`` is the
    out-of-distribution gate's (:class:`model.ood.OODVerdict`): the loader's rule reasons plus the
    feature distance of the identity pass.
    """
    if not with_cam:
        device = next(loaded.model.parameters()).device
        x = torch.cat([item.inputs for item in batch if item.inputs is not None]).to(device)
        with capture_features(loaded.model) as feats:  # the fc layer's input: identity rows first
            passes = tta_forward(loaded.model, x)
        stats = statistics_from(loaded)
        identity = feats[0][: len(batch)]
        return [
            (item, (float(a), float(b)), "", feature_verdict(stats, f, item.ood_reasons))
            for item, a, b, f in zip(batch, passes.p_identity, passes.p_flipped, identity)
        ]
    out = []
    for item in batch:
        assert item.volume is not None  # kept by the loader when heatmaps are asked for
        result = analyse(item.volume, loaded, with_cam=True)
        assert result.heatmap is not None  # with_cam=True
        cam_path = ""
        if cams_dir is not None:
            cam_path = str(Path(cams_dir) / _cam_name(item.entry))
            save_nifti_atomic(item.volume.source_image(result.heatmap), cam_path)
        if dicom_out is not None and item.entry.series is not None:
            item.exported = _export(dicom_out, item.volume, result, card=loaded.card)
        out.append((item, result.pass_probabilities, cam_path, result.ood))
        item.volume = None
    return out


def _scored_row(item: _Loaded, p1: float, p2: float, cam_file: str, card, verdict: OODVerdict | None = None) -> dict:
    """The worklist row of a scored case: P(injury) is the TTA mean of the two passes (Eq. 12).

    A case the out-of-distribution gate flagged gets the flag ``out of distribution`` in place of
    its threshold flag; its probability stays in ``p_injury``.
    """
    p = tta_mean(p1, p2)
    in_dist = verdict is None or verdict.in_distribution
    threshold_flag = flag_for(p, card.decision_threshold, card.indeterminate_band)
    return _row(
        item.entry,
        status="scored",
        p_injury=f"{p:.6f}",
        p_injury_identity=f"{p1:.6f}",
        p_injury_flipped=f"{p2:.6f}",
        tta_disagreement=f"{abs(p1 - p2):.6f}",
        flag=threshold_flag if in_dist else Flag.OUT_OF_DISTRIBUTION,
        in_distribution="true" if in_dist else "false",
        ood_score="" if verdict is None or verdict.score is None else f"{verdict.score:.4f}",
        ood_threshold="" if verdict is None or verdict.threshold is None else f"{verdict.threshold:.4f}",
        ood_reasons="" if verdict is None else "; ".join(verdict.reasons),
        quality_warnings="; ".join(item.warnings),
        input_sha256=item.sha256,
        weights_sha256=card.weights_sha256,
        model=f"{card.name} {card.version}",
        cam_file=cam_file,
        scored_utc=utc_now(),
        dicom_export=item.exported,
    )


def _export(out_dir, volume, result, card) -> str:
    """SR + SC for a DICOM case; the worklist cell (file names, or why the export failed)."""
    from model.record.dicom_export import export_dicom

    try:
        files = export_dicom(out_dir, volume, result, card)
    except GloResNetError as exc:
        return f"failed: {exc}"
    return f"{files.sr_path.name}; {files.sc_path.name}"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m model.score", description="Score every scan in a folder into a worklist CSV."
    )
    p.add_argument(
        "folder", type=Path, help="folder searched recursively for .nii/.nii.gz and DICOM series (BIDS-aware)"
    )
    p.add_argument("--out", required=True, type=Path, help="worklist CSV; if it exists, scored cases are skipped")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--cams", type=Path, help="folder for Grad-CAM heatmaps (NIfTI on each input's grid)")
    p.add_argument("--batch-size", type=int, help="cases per forward pass (default: 4 on CUDA, 1 on CPU)")
    p.add_argument("--loader-threads", type=int, default=2)
    p.add_argument("--no-bids", action="store_true", help="take every NIfTI file even in a BIDS folder")
    p.add_argument("--dicom-out", type=Path, help="write a DICOM SR + secondary capture for each DICOM series here")
    return p


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    def usage(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        return EXIT_USAGE

    if not args.folder.is_dir():
        return usage(f"{args.folder}: not a folder")
    if args.out.suffix.lower() != ".csv":
        return usage(f"{args.out}: --out must be a .csv file")
    problem = heatmaps_folder_problem(args.cams, args.folder)
    if problem is not None:
        return usage(f"{args.cams}: {problem}")
    if args.dicom_out is not None and args.dicom_out.resolve().is_relative_to(args.folder.resolve()):
        return usage(f"{args.dicom_out}: refusing to write DICOM results into the scored folder; pick another folder")
    try:
        device = select_device(args.device)
        loaded = load_weights(args.weights, device)
    except (ValueError, GloResNetError) as exc:
        return usage(str(exc))
    entries = discover(args.folder, bids=False if args.no_bids else None)
    if not entries:
        return usage(f"{args.folder}: no .nii or .nii.gz files or DICOM image series found")
    previous = read_worklist(args.out)
    gen = score_steps(
        entries,
        loaded,
        previous=previous,
        cams_dir=args.cams,
        batch_size=args.batch_size,
        loader_threads=args.loader_threads,
        dicom_out=args.dicom_out,
    )
    rows, counts = [], {"scored": 0, "failed": 0, "skipped": 0}
    bar = tqdm(total=len(entries), unit="scan", desc="scoring")
    last_save = time.monotonic()
    try:
        for event in gen:
            rows.append(event.row)
            counts["skipped" if event.skipped else event.row["status"]] += 1
            bar.update(1)
            bar.set_postfix(counts)
            if time.monotonic() - last_save > 30:
                write_worklist(args.out, merge_worklist(rows, previous))
                last_save = time.monotonic()
    except KeyboardInterrupt:
        gen.close()
        bar.close()
        write_worklist(args.out, merge_worklist(rows, previous))
        print(
            f"interrupted: {len(rows)} of {len(entries)} cases done in this run, written to {args.out} "
            "with the rows of earlier runs",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    bar.close()
    write_worklist(args.out, merge_worklist(rows, previous))
    print(
        f"{args.out}: {counts['scored']} scored, {counts['skipped']} skipped (already scored with these weights), "
        f"{counts['failed']} failed"
    )
    return EXIT_SOME_FAILED if counts["failed"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
