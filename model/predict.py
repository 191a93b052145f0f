"""``python -m model.predict SCAN``: the app's analysis, headless.

``SCAN`` is a NIfTI file or a DICOM folder (or file): a folder with one image series is analysed;
with several, they are listed and the exit code is 2 unless ``--series N|UID`` picks one.

Prints P(injury) (TTA mean) and the two per-pass probabilities, or a JSON object with ``--json``;
``--cam-out`` writes the Grad-CAM heatmap as NIfTI with exactly the input's shape (its spatial
part) and affine. With weights that segment (issue 28), the measurements and findings are printed
(``measurements``, ``lesions`` and ``findings`` in the JSON), ``--seg-out`` writes the label map
(uint8 NIfTI on the input's own grid and affine, :func:`model.seg_outputs.write_label_map`) with its
JSON label table beside it, and ``--pma WEEKS`` gives the post-menstrual age the measurements are
compared with their references at (default: what a BIDS ``sessions.tsv``, a JSON sidecar or the
DICOM header says, :func:`model.pma.pma_for`; else "PMA unknown"). ``--report`` writes the app's PDF
reading report (:mod:`model.record.reading_report`); ``--dicom-out`` adds a DICOM SEG and a TID 1500
measurement report to the SR and SC. An out-of-distribution scan's probability, heatmap, measurements
and findings go into the PDF and the DICOM objects only with ``--show-anyway``
(:func:`model.disclosure.may_show_result`). With ``--json`` a failure is a JSON object too (``{"scan", "error", "exit_code"}``
on stdout; the reason also on stderr). Exit codes, the same as ``python -m model.score``'s where they
overlap: 0 done, 1 bad input scan (one-line reason on stderr), 2 usage error or unusable weights
folder (a configuration problem, nothing was scored).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from model import DEFAULT_WEIGHTS_DIR
from model.checkpoint import load_weights
from model.dicom import find_series, image_series, is_dicom_input, listing, load_dicom
from model.errors import GloResNetError
from model.fileio import save_nifti_atomic
from model.inference import analyse, select_device
from model.record.dicom_export import export_dicom
from model.seg_outputs import NO_DECODER_TEXT, findings_summary, input_pma, label_table_path, write_label_map
from model.vocabulary import DEMONSTRATION_CLI_TEXT
from model.volume import is_nifti_path, load_volume

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE = 0, 1, 2
#: Unusable weights folder: a usage/configuration error, as in ``model.score`` (issue 11).
EXIT_BAD_WEIGHTS = EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m model.predict", description="Score one T2 scan (P(injury), Grad-CAM).")
    p.add_argument("scan", type=Path, help="NIfTI file (.nii or .nii.gz), or a DICOM folder or file")
    p.add_argument("--series", help="DICOM: the series to analyse (series number or Series Instance UID)")
    p.add_argument(
        "--weights", type=Path, default=DEFAULT_WEIGHTS_DIR, help="weights folder (default: bundled demo weights)"
    )
    p.add_argument("--cam-out", type=Path, help="write the Grad-CAM heatmap here (.nii or .nii.gz)")
    p.add_argument(
        "--seg-out",
        type=Path,
        help="write the segmentation's label map here (.nii or .nii.gz: uint8 on the input's grid and affine), "
        "with its label table beside it (NAME.labels.json); needs weights with a segmentation decoder",
    )
    p.add_argument(
        "--pma",
        type=float,
        metavar="WEEKS",
        help="post-menstrual age at scan in weeks, for the measurements' age references (default: from a BIDS "
        "sessions.tsv, a JSON sidecar or the DICOM header when they say it; else 'PMA unknown')",
    )
    p.add_argument("--report", type=Path, help="write the PDF reading report here (the app's report)")
    p.add_argument(
        "--show-anyway",
        action="store_true",
        help="a scan outside the training domain: put its probability, heatmap, measurements and findings into "
        "--report and --dicom-out anyway, marked as not a call",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="allow --cam-out, --seg-out and --report to replace existing files"
    )
    p.add_argument(
        "--dicom-out",
        type=Path,
        help="DICOM input: write a Structured Report and a Secondary Capture, and with weights that segment a "
        "Segmentation (SEG) and a TID 1500 Measurement Report (new series in the source study), into this folder",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return p


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - CLI flow: NIfTI or DICOM, outputs, exit codes
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    problem = _output_problem(args)
    if problem is not None:
        return _fail(args, problem, EXIT_USAGE)
    if args.dicom_out is not None and not is_dicom_input(args.scan):
        return _fail(
            args,
            f"{args.scan}: --dicom-out needs a DICOM input (a NIfTI file has no study to add results to)",
            EXIT_USAGE,
        )
    if args.dicom_out is not None and _inside(args.dicom_out, args.scan):
        return _fail(
            args, f"{args.dicom_out}: refusing to write into the DICOM input folder; pick another folder", EXIT_USAGE
        )
    if args.pma is not None and not (PMA_RANGE[0] <= args.pma <= PMA_RANGE[1]):
        return _fail(
            args,
            f"--pma {args.pma:g}: a post-menstrual age in weeks is between {PMA_RANGE[0]} and {PMA_RANGE[1]}",
            EXIT_USAGE,
        )
    if is_dicom_input(args.scan):
        code = _check_series_choice(args)
        if code is not None:
            return code
    try:
        device = select_device(args.device)
    except ValueError as exc:
        return _fail(args, str(exc), EXIT_USAGE)
    try:
        loaded = load_weights(args.weights, device)
    except GloResNetError as exc:
        return _fail(args, str(exc), EXIT_BAD_WEIGHTS)
    if args.seg_out is not None and getattr(loaded.model, "decoder", None) is None:
        return _fail(
            args,
            f"{args.weights}: --seg-out needs weights with a segmentation decoder; these have none, so "
            f"measurements and label maps are {NO_DECODER_TEXT.replace(' (no segmentation decoder)', '')}",
            EXIT_USAGE,
        )
    pma, pma_source = (args.pma, "--pma") if args.pma is not None else input_pma(args.scan)
    with_cam = any(x is not None for x in (args.cam_out, args.dicom_out, args.report))
    try:
        volume = _load(args) if is_dicom_input(args.scan) else load_volume(args.scan)
        result = analyse(volume, loaded, with_cam=with_cam, pma_weeks=pma, pma_source=pma_source)
        if args.cam_out is not None and result.heatmap is not None:
            save_nifti_atomic(volume.source_image(result.heatmap), args.cam_out)
        if args.seg_out is not None and result.labels is not None:
            write_label_map(volume, result.labels, args.seg_out, about=_about(volume, result))
        exported = None
        if args.dicom_out is not None:
            exported = export_dicom(args.dicom_out, volume, result, loaded.card, show_anyway=args.show_anyway)
        pages = None
        if args.report is not None:
            pages = _write_report(args, volume, result, loaded.card)
    except GloResNetError as exc:
        return _fail(args, str(exc), EXIT_BAD_INPUT)
    except OSError as exc:
        return _fail(args, f"cannot write the output: {exc.strerror or exc} ({exc.filename or ''})", EXIT_BAD_INPUT)
    summary = {"scan": str(args.scan), "scan_sha256": volume.sha256, **result.to_dict()}
    series = volume.extra.get("dicom")
    if series is not None:
        summary.update(scan_sha256_of=volume.extra["hash_of"], dicom=series.record())
    if args.cam_out is not None:
        summary["cam"] = str(args.cam_out)
    if args.seg_out is not None:
        summary.update(seg=str(args.seg_out), seg_labels=str(label_table_path(args.seg_out)))
    if exported is not None:
        summary.update(dicom_sr=str(exported.sr_path), dicom_sc=str(exported.sc_path))
        if exported.seg_path is not None:
            summary.update(dicom_seg=str(exported.seg_path), dicom_measurement_report=str(exported.tid1500_path))
    if args.report is not None:
        summary.update(report=str(args.report), report_pages=pages)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_text(args, result, series, exported)
    return EXIT_OK


#: Post-menstrual ages (weeks) accepted by --pma (as model.pma reads them).
PMA_RANGE = (20.0, 60.0)


def _output_problem(args) -> str | None:
    """Why an output path cannot be used (wrong name, the input itself, exists, inside the DICOM input), or None."""
    outputs = [
        (args.cam_out, "--cam-out", is_nifti_path, ".nii or .nii.gz"),
        (args.seg_out, "--seg-out", is_nifti_path, ".nii or .nii.gz"),
        (args.report, "--report", lambda p: Path(p).name.lower().endswith(".pdf"), ".pdf"),
    ]
    for path, option, ok, suffix in outputs:
        if path is None:
            continue
        if not ok(path):
            return f"{path}: {option} must end in {suffix}"
        if path.resolve() == args.scan.resolve():
            return f"{path}: refusing to overwrite the input scan"
        written = [path] + ([label_table_path(path)] if option == "--seg-out" else [])
        for target in written:
            if target.exists() and not args.overwrite:
                return f"{target}: exists (use --overwrite to replace it)"
        if is_dicom_input(args.scan) and _inside(path, args.scan):
            return f"{path}: refusing to write into the DICOM input folder; pick another folder"
    return None


def _about(volume, result) -> dict:
    """What the label table says about where the map came from."""
    return {
        "model": f"{result.model_name} {result.model_version}",
        "weights_sha256": result.weights_sha256,
        "input_sha256": volume.sha256,
    }


def _write_report(args, volume, result, card) -> int:
    from model.record.reading_report import build_reading_report, dicom_identifiers
    from model.record.report import write_report

    report = build_reading_report(
        volume,
        result,
        card,
        name=args.scan.name,
        identifiers=dicom_identifiers(volume),
        show_anyway=args.show_anyway,
    )
    return write_report(args.report, report)


def _print_text(args, result, series, exported) -> None:
    p1, p2 = result.pass_probabilities
    demo = f"  [{DEMONSTRATION_CLI_TEXT}]" if result.demonstration else ""
    print(f"{args.scan}" + (f"  (DICOM series {series.series_number}: {series.series_description})" if series else ""))
    print(f"P(injury) = {result.probability:.4f}  (TTA mean; identity {p1:.4f}, left-right flipped {p2:.4f})")
    ood = result.ood is not None and not result.in_distribution
    if ood:
        print(f"{result.ood.summary}  [the probability is not a call]")
        print(f"flag it would have in distribution: {result.threshold_flag}")
    print(
        f"flag: {result.flag} (decision threshold {result.decision_threshold:.2f}, indeterminate band ±{result.indeterminate_band:.2f})"
    )
    print(f"model: {result.model_name} {result.model_version}, weights {result.weights_sha256[:12]}{demo}")
    _print_measurements(result, ood)
    if args.cam_out is not None:
        print(f"heatmap: {args.cam_out}")
    if args.seg_out is not None:
        print(f"label map: {args.seg_out} (label table {label_table_path(args.seg_out)})")
    if exported is not None:
        print(f"DICOM structured report: {exported.sr_path}")
        print(f"DICOM secondary capture: {exported.sc_path}")
        if exported.seg_path is not None:
            print(f"DICOM segmentation: {exported.seg_path}")
            print(f"DICOM measurement report (TID 1500): {exported.tid1500_path}")
    if args.report is not None:
        print(f"report: {args.report}")


def _print_measurements(result, ood: bool) -> None:
    report = result.report
    if report is None:
        print(f"measurements: {NO_DECODER_TEXT}")
        return
    note = "  [outside the training domain: not results]" if ood else ""
    pma = "PMA unknown: values only, no references"
    if report.pma_weeks is not None:
        pma = f"references at PMA {report.pma_weeks:.1f} weeks" + (
            f", from {report.pma_source}" if report.pma_source else ""
        )
    print(f"measurements ({pma}){note}:")
    for m in report.measurements:
        ref = ""
        if m.reference is not None:
            sd = f" ± {m.reference.sd:.3g}" if m.reference.sd is not None else ", no published spread"
            ref = f"  reference {m.reference.mean:.3g}{sd}"
            if m.z is not None:
                ref += f", z {m.z:+.1f}, centile {m.centile:.0f}" + (f" ({m.flag})" if m.flag else "")
        unit = "" if m.unit == "1" else f" {m.unit}"
        print(f"  {m.name}: {m.value:.4g}{unit}{ref}")
    print(f"findings: {findings_summary(report)}{note}")
    for f in report.findings:
        x, y, z = f.location_ras_mm
        print(f"  {f.summary} at RAS ({x:.1f}, {y:.1f}, {z:.1f}) mm")


def _fail(args, message: str, code: int) -> int:
    """Say why on stderr (and, with ``--json``, as a JSON object on stdout); returns ``code``."""
    print(f"error: {message}", file=sys.stderr)
    if args.json:
        print(json.dumps({"scan": str(args.scan), "error": message, "exit_code": code}, indent=2))
    return code


def _inside(path: Path, folder: Path) -> bool:
    folder = folder if folder.is_dir() else folder.parent
    return path.resolve().is_relative_to(folder.resolve())


def _check_series_choice(args) -> int | None:
    """Exit code when the DICOM input needs a ``--series`` choice (listing the series), else None."""
    try:
        found = image_series(find_series(args.scan))
    except GloResNetError as exc:
        return _fail(args, str(exc), EXIT_BAD_INPUT)
    if args.series is None and len(found) > 1:
        message = f"{args.scan}: {len(found)} image series found; choose one with --series N (number) or UID:\n"
        return _fail(args, message + listing(found).rstrip("\n"), EXIT_USAGE)
    return None


def _load(args):
    return load_dicom(args.scan, series=args.series)


if __name__ == "__main__":
    sys.exit(main())
