"""Age references of the measurements by post-menstrual age (PMA), and a site's own fit.

The command line ``python -m model.norms fit|serag`` (:mod:`model.norms.__main__` runs :func:`main`):
``fit`` writes a site's reference fitted from its normal scans, ``serag`` regenerates the bundled
table from the Serag template label maps (:mod:`model.norms.fit` says how). Exit codes: 0 written,
1 bad input (the message names the file and line), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model.norms.fit import fit_site, serag_header, serag_table
from model.norms_table import BUNDLED_PATH, NormError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m model.norms", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="fit a site's own reference from its normal scans (Gaussian process regression)")
    fit.add_argument("--manifest", required=True, help="csv with the columns labels (NIfTI label map) and pma_weeks")
    fit.add_argument("--out", required=True, help="reference table to write (csv, the bundled table's format)")
    serag = sub.add_parser("serag", help="regenerate the bundled table from the Serag template label maps")
    serag.add_argument("--templates", required=True, help="folder with template-28.nii.gz ... template-44.nii.gz")
    serag.add_argument("--out", default=str(BUNDLED_PATH), help="table to write (default: the bundled one)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line (see the module docstring); returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "fit":
            out = Path(args.out)
            if out.resolve() == Path(args.manifest).resolve():
                print(f"{out}: --out must not be the manifest", file=sys.stderr)
                return 2
            table = fit_site(args.manifest, log=lambda msg: print(msg, file=sys.stderr))
            header = [
                f"Site reference fitted by: python -m model.norms fit --manifest {args.manifest} --out {args.out}",
                "mean = GPR predictive mean, sd = sqrt(predictive variance incl. noise) at each whole week.",
            ]
        else:
            table = serag_table(args.templates)
            header = serag_header()
        table.write(args.out, header)
    except NormError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {args.out}: cannot be written ({exc})", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: {len(table.keys())} measures, {len(table.rows())} rows")
    return 0
