"""``python -m model.ood``: fit the feature gate of a weights folder, or check scans against the rules.

python -m model.ood fit --weights DIR --synthetic 200 --seed 1
python -m model.ood fit --weights DIR --manifest heldout.csv        # columns path,label[,subject]
python -m model.ood check SCAN [SCAN ...]                           # rules only, a table
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from model.checkpoint import OOD_FILE, read_card
from model.ood.fit import fit_for_weights, manifest_cases, phantom_cases, synthetic_cases
from model.ood_gate import check_table, read_manifest


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m model.ood", description="Out-of-distribution gate: fit it, or check scans."
    )
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fit", help="fit the feature gate of a weights folder (writes ood.safetensors + card field)")
    f.add_argument("--weights", type=Path, required=True)
    src = f.add_mutually_exclusive_group(required=True)
    src.add_argument("--manifest", type=Path, help="held-out in-distribution scans: CSV path,label[,subject]")
    src.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="N fresh renders of the training generator (synthetic-trained weights)",
    )
    src.add_argument("--phantom", type=int, metavar="N", help="N fresh phantom volumes (one fixed contrast)")
    f.add_argument("--seed", type=int, default=1)
    f.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    c = sub.add_parser("check", help="apply the rules to scans and print a table (or JSON)")
    c.add_argument("scans", nargs="+", type=Path)
    c.add_argument("--json", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from model.errors import GloResNetError

    if args.cmd == "check":
        rows = check_table(args.scans)
        if args.json:
            print(json.dumps(rows, indent=2))
        else:
            for r in rows:
                verdict = "pass" if r["in_distribution"] else "FLAG: " + "; ".join(r["reasons"])
                print(f"{r['file']}\t{verdict}")
        return 0
    from model.inference import select_device

    try:
        device = select_device(args.device)
        if args.synthetic is not None or args.phantom is not None:
            n = args.synthetic if args.synthetic is not None else args.phantom
            if n < 6:
                raise ValueError("--synthetic and --phantom need at least 6 cases")
            if args.synthetic is not None:
                cfg = read_card(args.weights).preprocessing
                cases = synthetic_cases(n, args.seed, cfg, device)
                source = f"{n} fresh renders of the training generator (model.simulation.synth, seed {args.seed})"
            else:
                cases = phantom_cases(n, args.seed)
                source = f"{n} fresh phantom volumes (model.simulation.phantom, seed {args.seed})"
        else:
            read_manifest(args.manifest)  # validate before loading weights
            cases, source = manifest_cases(args.manifest), f"manifest {args.manifest.name}"
        info = fit_for_weights(args.weights, cases, source=source, seed=args.seed, device=device)
    except (ValueError, GloResNetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{args.weights}: feature gate fitted on {info['n_fit']} cases, threshold {info['threshold']:.2f} "
        f"(99th percentile of {info['n_calibration']} held-out cases); {OOD_FILE} sha256 {info['sha256'][:12]}"
    )
    return 0
