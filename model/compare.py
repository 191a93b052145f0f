"""``python -m model.compare BASE NEW``: are the new weights better than the old on this set?

Reads two ``python -m model.evaluate`` output folders made on the *same* manifest
(``predictions.csv`` and ``metrics.json`` in each), pairs the scans by path, and reports every
metric of both weights (each at its own card's decision threshold) with the difference NEW minus
BASE and its paired percentile-bootstrap 95% interval over subjects
(:func:`model.training.metrics.paired_bootstrap`). Comparing the two separate intervals of
``model.evaluate`` instead overstates the uncertainty of the difference.

Only scans both evaluations scored are compared; the out-of-distribution flag is ignored (the
comparison is of the probabilities). Output: a Markdown table on stdout and, with ``--out``, the
same numbers as JSON (written atomically).

Exit codes: 0 done, 2 usage error (missing folder, different sets or labels).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from model.fileio import write_bytes_atomic
from model.training.metrics import METRICS, paired_bootstrap

EXIT_OK, EXIT_USAGE = 0, 2


def read_evaluation(folder: Path) -> tuple[dict, dict]:
    """``({path: row}, metrics)`` of a ``model.evaluate`` folder (scored rows only).

    Raises
    ------
    ValueError
        ``predictions.csv`` or ``metrics.json`` is missing or unreadable (the message names it).
    """
    preds, metrics = folder / "predictions.csv", folder / "metrics.json"
    for f in (preds, metrics):
        if not f.is_file():
            raise ValueError(f"{f}: not found (is {folder} a 'python -m model.evaluate' output folder?)")
    try:
        with open(preds, newline="") as fh:
            rows = {r["path"]: r for r in csv.DictReader(fh) if r.get("status") == "scored"}
        m = json.loads(metrics.read_text())
        float(m["decision_threshold"])
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{folder}: cannot read its evaluation ({exc})") from None
    return rows, m


def compare(base: Path, new: Path, *, n_boot: int = 2000, seed: int = 0) -> dict:
    """The paired comparison of two evaluation folders (see the module docstring).

    Raises
    ------
    ValueError
        A folder is not an evaluation, the two share no scans, or a scan's label differs.
    """
    rows_a, ma = read_evaluation(base)
    rows_b, mb = read_evaluation(new)
    paths = sorted(set(rows_a) & set(rows_b))
    if not paths:
        raise ValueError(f"{base} and {new} share no scored scans: were they made on the same manifest?")
    for p in paths:
        if rows_a[p]["label"] != rows_b[p]["label"]:
            raise ValueError(f"{p}: labelled {rows_a[p]['label']} in {base} but {rows_b[p]['label']} in {new}")
    thresholds = (float(ma["decision_threshold"]), float(mb["decision_threshold"]))
    result = paired_bootstrap(
        [int(rows_a[p]["label"]) for p in paths],
        [float(rows_a[p]["p_injury"]) for p in paths],
        [float(rows_b[p]["p_injury"]) for p in paths],
        [rows_a[p]["subject"] or p for p in paths],
        thresholds,
        n_boot=n_boot,
        seed=seed,
    )

    def who(m: dict, folder: Path) -> dict:
        w = m.get("weights", {})
        return {
            "folder": str(folder),
            "name": w.get("name"),
            "version": w.get("version"),
            "sha256": w.get("weights_sha256"),
        }

    return {
        "base": {**who(ma, base), "decision_threshold": thresholds[0]},
        "new": {**who(mb, new), "decision_threshold": thresholds[1]},
        "n_paired": len(paths),
        "only_in_base": len(set(rows_a) - set(rows_b)),
        "only_in_new": len(set(rows_b) - set(rows_a)),
        "bootstrap": {"n_boot": n_boot, "seed": seed, "unit": "subject", "interval": "paired percentile 95%"},
        "metrics": {k: result[k] for k in METRICS},
    }


def markdown(c: dict) -> str:
    def label(side: dict) -> str:
        return f"{side['name']} {side['version']} (threshold {side['decision_threshold']:g})"

    lines = [
        f"Paired comparison on {c['n_paired']} scans: NEW {label(c['new'])} minus BASE {label(c['base'])}",
        "",
        "| metric | base | new | new - base | paired 95% interval | resamples where new is better |",
        "|---|---|---|---|---|---|",
    ]
    for key, m in c["metrics"].items():
        lo, hi = m["ci95"]
        lines.append(
            f"| {key} | {m['a']:.3f} | {m['b']:.3f} | {m['difference']:+.3f} | {lo:+.3f} to {hi:+.3f} | "
            f"{100 * m['p_b_better']:.0f} % |"
        )
    if c["only_in_base"] or c["only_in_new"]:
        lines += ["", f"Not compared: {c['only_in_base']} scans scored only in BASE, {c['only_in_new']} only in NEW."]
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m model.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("base", type=Path, help="model.evaluate output folder of the reference weights")
    p.add_argument("new", type=Path, help="model.evaluate output folder of the candidate weights, same manifest")
    p.add_argument("--out", type=Path, help="also write the comparison as JSON to this file")
    p.add_argument("--n-boot", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        c = compare(args.base, args.new, n_boot=args.n_boot, seed=args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(markdown(c), end="")
    if args.out:
        write_bytes_atomic(args.out, (json.dumps(c, indent=2) + "\n").encode())
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
