"""``python -m model.predict SCAN``: the app's analysis, headless.

``SCAN`` is a NIfTI file or a DICOM folder (or file): a folder with one image series is analysed;
with several, they are listed and the exit code is 2 unless ``--series N|UID`` picks one.

Prints P(injury) (TTA mean) and the two per-pass probabilities, or a JSON object with ``--json``;
``--cam-out`` writes the Grad-CAM heatmap as NIfTI with exactly the input's shape (its spatial
part) and affine. With ``--json`` a failure is a JSON object too (``{"scan", "error", "exit_code"}``
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
    p.add_argument("--overwrite", action="store_true", help="allow --cam-out to replace an existing file")
    p.add_argument(
        "--dicom-out",
        type=Path,
        help="DICOM input: write a Structured Report and a Secondary Capture "
        "(new series in the source study) into this folder",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return p


def main(argv: list[str] | None = None) -> int:  # noqa: C901 - CLI flow: NIfTI or DICOM, outputs, exit codes
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.cam_out is not None:
        if not is_nifti_path(args.cam_out):
            return _fail(args, f"{args.cam_out}: --cam-out must end in .nii or .nii.gz", EXIT_USAGE)
        if args.cam_out.resolve() == args.scan.resolve():
            return _fail(args, f"{args.cam_out}: refusing to overwrite the input scan", EXIT_USAGE)
        if args.cam_out.exists() and not args.overwrite:
            return _fail(args, f"{args.cam_out}: exists (use --overwrite to replace it)", EXIT_USAGE)
    if args.cam_out is not None and is_dicom_input(args.scan) and _inside(args.cam_out, args.scan):
        return _fail(
            args, f"{args.cam_out}: refusing to write into the DICOM input folder; pick another folder", EXIT_USAGE
        )
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
    try:
        volume = _load(args) if is_dicom_input(args.scan) else load_volume(args.scan)
        result = analyse(volume, loaded, with_cam=args.cam_out is not None or args.dicom_out is not None)
        if args.cam_out is not None and result.heatmap is not None:
            save_nifti_atomic(volume.source_image(result.heatmap), args.cam_out)
        exported = None
        if args.dicom_out is not None:
            exported = export_dicom(args.dicom_out, volume, result, loaded.card)
    except GloResNetError as exc:
        return _fail(args, str(exc), EXIT_BAD_INPUT)
    summary = {"scan": str(args.scan), "scan_sha256": volume.sha256, **result.to_dict()}
    series = volume.extra.get("dicom")
    if series is not None:
        summary.update(scan_sha256_of=volume.extra["hash_of"], dicom=series.record())
    if args.cam_out is not None:
        summary["cam"] = str(args.cam_out)
    if exported is not None:
        summary.update(dicom_sr=str(exported.sr_path), dicom_sc=str(exported.sc_path))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        p1, p2 = result.pass_probabilities
        demo = f"  [{DEMONSTRATION_CLI_TEXT}]" if result.demonstration else ""
        print(
            f"{args.scan}" + (f"  (DICOM series {series.series_number}: {series.series_description})" if series else "")
        )
        print(f"P(injury) = {result.probability:.4f}  (TTA mean; identity {p1:.4f}, left-right flipped {p2:.4f})")
        if result.ood is not None and not result.in_distribution:
            print(f"{result.ood.summary}  [the probability is not a call]")
            print(f"flag it would have in distribution: {result.threshold_flag}")
        print(
            f"flag: {result.flag} (decision threshold {result.decision_threshold:.2f}, indeterminate band ±{result.indeterminate_band:.2f})"
        )
        print(f"model: {result.model_name} {result.model_version}, weights {result.weights_sha256[:12]}{demo}")
        if args.cam_out is not None:
            print(f"heatmap: {args.cam_out}")
        if exported is not None:
            print(f"DICOM structured report: {exported.sr_path}")
            print(f"DICOM secondary capture: {exported.sc_path}")
    return EXIT_OK


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
