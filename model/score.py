"""Batch scoring: a folder of scans -> a worklist (CSV), as a cancellable generator and a CLI.

``python -m model.score FOLDER --out results.csv [--weights DIR] [--device cpu|cuda] [--cams DIR] [--segs DIR]
[--reports DIR] [--dicom-out DIR]``

:func:`discover` finds scans recursively (``.nii``/``.nii.gz``); in a BIDS dataset only
``sub-*/[ses-*/]anat/*_T2w.nii[.gz]`` outside ``derivatives/`` and ``sourcedata/``, with subject and
session columns. :func:`score_steps` scores them: loader threads read, hash, check and preprocess
the next scans while the network works on the current ones (a bounded window, so memory stays flat),
every failure becomes a row with its reason, and cases already scored with the same weights (matched
by the input file's SHA-256 and the weights' SHA-256) are kept and skipped. Stop iterating to cancel:
everything finished so far is kept. The GUI's batch dialog wraps the same generator.

With weights that segment (issue 28), every row also has the main measures and the findings
(:data:`model.seg_outputs.MEASURE_COLUMNS`: ventricle volume with its z-score and centile at the
infant's PMA, white-matter volume and z-score, the number of lesions, a findings summary; the PMA
from the scan's own metadata, :func:`model.pma.pma_for`); ``--segs DIR`` writes each label map as
``<relative path>_seg.nii.gz`` (with its ``.labels.json``) on the input's grid as ``--cams`` does
heatmaps; ``--reports DIR`` writes each case's PDF reading report (the app's report) as
``<relative path>_report.pdf``. A scan outside the training domain gets no measurements or findings
as results (:func:`model.disclosure.may_show_result`).

Exit codes of the CLI: 0 every file scored, 1 some files failed (reasons in the CSV), 2 usage error
(bad arguments, missing folder, unusable weights), 130 interrupted (partial results written).

The batch policy (which output folders are refused, how an earlier worklist is merged) and the
worklist's columns and CSV file are in :mod:`model.worklist`, shared with the GUI's batch dialog;
its names are importable from here too.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator

import torch

from model import DEFAULT_WEIGHTS_DIR
from model.bids import ScanEntry, discover
from model.checkpoint import LoadedModel, load_weights
from model.dicom import load_series, row_columns
from model.errors import GloResNetError, ScanError
from model.fileio import save_nifti_atomic
from model.inference import analyse, select_device, tta_forward, tta_mean
from model.ood_gate import OODVerdict, capture_features, feature_verdict, rule_reasons, statistics_from
from model.preprocessing import preprocess
from model.quality import quality_warnings
from model.seg_outputs import MEASURE_COLUMNS, NO_DECODER_TEXT, input_pma, worklist_cells, write_label_map
from model.timestamps import utc_now
from model.vocabulary import Flag, flag_for
from model.volume import Volume, load_volume
from model.worklist import (
    COLUMNS,
    OUTPUTS_INSIDE_INPUT,
    heatmaps_folder_problem,
    is_inside,
    merge_worklist,
    read_worklist,
    write_worklist,
)

log = logging.getLogger("model.score")

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


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
    pma: tuple = (None, "")


@dataclass
class _Outcome:
    """What scoring one loaded case gave (the fast path leaves the analysis-only fields empty)."""

    passes: tuple
    verdict: OODVerdict | None
    probability: float | None = None
    threshold: float | None = None
    cells: dict = field(default_factory=dict)
    cam_file: str = ""
    seg_file: str = ""
    report_file: str = ""
    notes: list = field(default_factory=list)


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


def _output_name(entry: ScanEntry, suffix: str) -> str:
    """``<relative path without .nii[.gz]><suffix>`` (a DICOM series' relative path is its folder)."""
    rel = entry.relpath
    for ext in (".nii.gz", ".nii"):
        if rel.lower().endswith(ext):
            rel = rel[: -len(ext)]
            break
    return rel.rstrip("/") + suffix


def _cam_name(entry: ScanEntry) -> str:
    return _output_name(entry, "_cam.nii.gz")


def _row(entry: ScanEntry, **values) -> dict:
    row = {c: "" for c in COLUMNS}
    row.update(file=entry.relpath, subject=entry.subject, session=entry.session)
    row.update(row_columns(entry.series))  # DICOM identifiers (issue 9)
    row.update({k: v for k, v in values.items()})
    return row


def score_steps(  # noqa: PLR0913 - the batch and each of its optional outputs
    entries: list[ScanEntry],
    loaded: LoadedModel,
    *,
    previous: list[dict] | None = None,
    cams_dir: str | Path | None = None,
    batch_size: int | None = None,
    loader_threads: int = 2,
    prefetch: int = 4,
    dicom_out: str | Path | None = None,
    segs_dir: str | Path | None = None,
    reports_dir: str | Path | None = None,
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
        Write a DICOM SR + SC for each DICOM series here (:func:`model.record.dicom_export.export_dicom`;
        with a segmentation also a SEG and a TID 1500 report); this computes Grad-CAM for every case.
        Never the input folder (the CLI checks).
    segs_dir : path, optional
        Write each label map here as ``<relative path>_seg.nii.gz`` (+ ``.labels.json``) on the
        input's grid (weights with a segmentation decoder).
    reports_dir : path, optional
        Write each case's PDF reading report here as ``<relative path>_report.pdf`` (computes Grad-CAM).

    With a segmentation decoder every case runs the whole analysis (its measurements and findings
    fill :data:`model.seg_outputs.MEASURE_COLUMNS`, at the PMA its metadata gives).

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
    with_cam = cams_dir is not None or dicom_out is not None or reports_dir is not None
    segments = getattr(model, "decoder", None) is not None
    full = with_cam or segments or segs_dir is not None
    outputs = {"cams": cams_dir, "dicom": dicom_out, "segs": segs_dir, "reports": reports_dir}
    summary = ScoreSummary(total=len(entries))

    def load(entry: ScanEntry) -> _Loaded:
        return _load_case(entry, card.preprocessing, done_before, keep_volume=full, with_pma=segments)

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
            for item, outcome in _score_batch(batch, loaded, outputs, full=full, with_cam=with_cam):
                yield finish(_scored_row(item, outcome, card))
    finally:
        for fut in pending:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        summary.seconds = time.perf_counter() - t0
    return summary


def _load_case(
    entry: ScanEntry, preprocessing, done_before: dict, keep_volume: bool, with_pma: bool = False
) -> _Loaded:
    """Read, hash, check and preprocess one scan (in a loader thread); a bad file sets ``error``.

    ``with_pma``: also read the post-menstrual age from the scan's metadata (:func:`model.pma.pma_for`).
    """
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
    if with_pma:
        item.pma = input_pma(entry.series.folder if entry.series is not None else entry.path)
    if keep_volume:
        item.volume = volume
    else:
        item.inputs = preprocess(volume.data, preprocessing)
    return item


def _score_batch(batch: list[_Loaded], loaded: LoadedModel, outputs: dict, *, full: bool, with_cam: bool) -> list:
    """``[(item, _Outcome)]`` for loaded cases.

    Without ``full`` (no heatmaps, no segmentation, no outputs) the batch goes through one TTA
    forward pass. With ``full`` each case runs the whole analysis (:func:`model.inference.analyse`,
    Grad-CAM when ``with_cam``): its heatmap, label map and PDF report are written where
    ``outputs`` (``cams``, ``segs``, ``reports``, ``dicom``) say, and DICOM series get their DICOM
    objects. The verdict is the out-of-distribution gate's (:class:`model.ood_gate.OODVerdict`).
    """
    if not full:
        device = next(loaded.model.parameters()).device
        x = torch.cat([item.inputs for item in batch if item.inputs is not None]).to(device)
        with capture_features(loaded.model) as feats:  # the fc layer's input: identity rows first
            passes = tta_forward(loaded.model, x)
        stats = statistics_from(loaded)
        identity = feats[0][: len(batch)]
        return [
            (
                item,
                _Outcome(
                    passes=(float(a), float(b)),
                    verdict=feature_verdict(stats, f, item.ood_reasons),
                    cells={c: "" for c in MEASURE_COLUMNS} | {"segmentation": NO_DECODER_TEXT},
                ),
            )
            for item, a, b, f in zip(batch, passes.p_identity, passes.p_flipped, identity)
        ]
    out = []
    for item in batch:
        assert item.volume is not None  # kept by the loader for the whole analysis
        pma, pma_source = item.pma
        result = analyse(item.volume, loaded, with_cam=with_cam, pma_weeks=pma, pma_source=pma_source)
        outcome = _Outcome(
            passes=tuple(result.pass_probabilities),
            verdict=result.ood,
            probability=result.probability,
            threshold=result.decision_threshold,
            cells=worklist_cells(result),
        )
        _write_case_outputs(item, result, loaded, outputs, outcome)
        out.append((item, outcome))
        item.volume = None
    return out


def _write_case_outputs(item: _Loaded, result, loaded: LoadedModel, outputs: dict, outcome: _Outcome) -> None:
    """The heatmap, label map, PDF report and DICOM objects of one case; a write that fails is noted."""
    entry, volume = item.entry, item.volume
    assert volume is not None  # kept by the loader for the whole analysis
    if outputs.get("cams") is not None and result.heatmap is not None:
        outcome.cam_file = str(Path(outputs["cams"]) / _cam_name(entry))
        save_nifti_atomic(volume.source_image(result.heatmap), outcome.cam_file)
    if outputs.get("segs") is not None and result.labels is not None:
        path = Path(outputs["segs"]) / _output_name(entry, "_seg.nii.gz")
        try:
            write_label_map(
                volume,
                result.labels,
                path,
                about={"model": f"{result.model_name} {result.model_version}", "input_sha256": volume.sha256},
            )
            outcome.seg_file = str(path)
        except OSError as exc:
            outcome.notes.append(f"label map not written: {exc.strerror or exc}")
    if outputs.get("reports") is not None:
        path = Path(outputs["reports"]) / _output_name(entry, "_report.pdf")
        try:
            _write_report(path, volume, result, loaded.card, entry)
            outcome.report_file = str(path)
        except OSError as exc:
            outcome.notes.append(f"report not written: {exc.strerror or exc}")
    if outputs.get("dicom") is not None and entry.series is not None:
        item.exported = _export(outputs["dicom"], volume, result, card=loaded.card)


def _write_report(path: Path, volume, result, card, entry: ScanEntry) -> int:
    """The app's PDF reading report of one case (:mod:`model.record.reading_report`)."""
    from model.record.reading_report import build_reading_report, dicom_identifiers
    from model.record.report import write_report

    report = build_reading_report(volume, result, card, name=entry.relpath, identifiers=dicom_identifiers(volume))
    return write_report(path, report)


def _scored_row(item: _Loaded, outcome: _Outcome, card) -> dict:
    """The worklist row of a scored case: P(injury) is the TTA mean of the two passes (Eq. 12), or the
    analysis' own P(injury) (a fused call, :mod:`model.fusion`) when the whole analysis ran.

    A case the out-of-distribution gate flagged gets the flag ``out of distribution`` in place of
    its threshold flag; its probability stays in ``p_injury``; its measurements and findings are not
    given (:func:`model.seg_outputs.worklist_cells`).
    """
    p1, p2 = outcome.passes
    verdict = outcome.verdict
    p = outcome.probability if outcome.probability is not None else tta_mean(p1, p2)
    threshold = outcome.threshold if outcome.threshold is not None else card.decision_threshold
    in_dist = verdict is None or verdict.in_distribution
    threshold_flag = flag_for(p, threshold, card.indeterminate_band)
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
        reason="; ".join(outcome.notes),
        input_sha256=item.sha256,
        weights_sha256=card.weights_sha256,
        model=f"{card.name} {card.version}",
        cam_file=outcome.cam_file,
        seg_file=outcome.seg_file,
        report_file=outcome.report_file,
        scored_utc=utc_now(),
        dicom_export=item.exported,
        **outcome.cells,
    )


def _export(out_dir, volume, result, card) -> str:
    """SR + SC for a DICOM case; the worklist cell (file names, or why the export failed)."""
    from model.record.dicom_export import export_dicom

    try:
        files = export_dicom(out_dir, volume, result, card)
    except GloResNetError as exc:
        return f"failed: {exc}"
    return "; ".join(p.name for p in files.paths)


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
    p.add_argument(
        "--segs",
        type=Path,
        help="folder for the label maps (uint8 NIfTI on each input's grid, with a .labels.json); "
        "needs weights with a segmentation decoder",
    )
    p.add_argument("--reports", type=Path, help="folder for each case's PDF reading report (the app's report)")
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
    for folder, what in ((args.segs, "label maps"), (args.reports, "reports")):
        if folder is not None and is_inside(folder, args.folder):
            return usage(f"{folder}: {OUTPUTS_INSIDE_INPUT.format(what=what)}")
    if args.dicom_out is not None and args.dicom_out.resolve().is_relative_to(args.folder.resolve()):
        return usage(f"{args.dicom_out}: refusing to write DICOM results into the scored folder; pick another folder")
    try:
        device = select_device(args.device)
        loaded = load_weights(args.weights, device)
    except (ValueError, GloResNetError) as exc:
        return usage(str(exc))
    if args.segs is not None and getattr(loaded.model, "decoder", None) is None:
        return usage(
            f"{args.weights}: --segs needs weights with a segmentation decoder; these have none, so label maps "
            "and measurements are not available with these weights"
        )
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
        segs_dir=args.segs,
        reports_dir=args.reports,
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
