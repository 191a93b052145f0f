"""``python -m model.predict SCAN``: the app's analysis, headless.

Prints P(injury) (TTA mean) and the two per-pass probabilities, or a JSON object with ``--json``;
``--cam-out`` writes the Grad-CAM heatmap as NIfTI with exactly the input's shape (its spatial
part) and affine. Exit codes: 0 done, 1 bad input or weights (one-line reason on stderr),
2 usage error.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from model import DEFAULT_WEIGHTS_DIR
from model.checkpoint import load_weights
from model.errors import GloResNetError
from model.fileio import save_nifti_atomic
from model.inference import analyse, select_device
from model.volume import is_nifti_path, load_volume

EXIT_OK, EXIT_BAD_INPUT, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m model.predict", description="Score one T2 scan (P(injury), Grad-CAM).")
    p.add_argument("scan", type=Path, help="NIfTI file (.nii or .nii.gz)")
    p.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS_DIR, help="weights folder (default: bundled demo weights)")
    p.add_argument("--cam-out", type=Path, help="write the Grad-CAM heatmap here (.nii or .nii.gz)")
    p.add_argument("--overwrite", action="store_true", help="allow --cam-out to replace an existing file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.cam_out is not None:
        if not is_nifti_path(args.cam_out):
            print(f"error: {args.cam_out}: --cam-out must end in .nii or .nii.gz", file=sys.stderr)
            return EXIT_USAGE
        if args.cam_out.resolve() == args.scan.resolve():
            print(f"error: {args.cam_out}: refusing to overwrite the input scan", file=sys.stderr)
            return EXIT_USAGE
        if args.cam_out.exists() and not args.overwrite:
            print(f"error: {args.cam_out}: exists (use --overwrite to replace it)", file=sys.stderr)
            return EXIT_USAGE
    try:
        device = select_device(args.device)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        volume = load_volume(args.scan)
        loaded = load_weights(args.weights, device)
        result = analyse(volume, loaded, with_cam=args.cam_out is not None)
        if args.cam_out is not None:
            save_nifti_atomic(volume.source_image(result.heatmap), args.cam_out)
    except GloResNetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    summary = {"scan": str(args.scan), "scan_sha256": volume.sha256, **result.to_dict()}
    if args.cam_out is not None:
        summary["cam"] = str(args.cam_out)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        p1, p2 = result.pass_probabilities
        demo = "  [DEMONSTRATION weights: not for clinical use]" if result.demonstration else ""
        print(f"{args.scan}")
        print(f"P(injury) = {result.probability:.4f}  (TTA mean; identity {p1:.4f}, left-right flipped {p2:.4f})")
        if not result.in_distribution:
            print(f"{result.ood.summary}  [the probability is not a call]")
            print(f"flag it would have in distribution: {result.threshold_flag}")
        print(f"flag: {result.flag} (decision threshold {result.threshold:.2f}, indeterminate band ±{result.indeterminate_band:.2f})")
        print(f"model: {result.model_name} {result.model_version}, weights {result.weights_sha256[:12]}{demo}")
        if args.cam_out is not None:
            print(f"heatmap: {args.cam_out}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
