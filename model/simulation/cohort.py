"""A labelled simulated cohort (BIDS-like folder + manifest.csv) and the simulation command line.

``python -m model.simulation cohort OUT_DIR --n 40 --seed 0`` writes subjects drawn by
:func:`model.simulation.phantom.make_phantom`; ``python -m model.simulation sample OUT.nii.gz`` writes
the app's built-in sample. See :mod:`model.simulation.phantom` for what is and is not modelled.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

from model.fileio import save_nifti_atomic, write_bytes_atomic
from model.simulation.phantom import PMA_RANGE_WEEKS, SAMPLE_ORIENTATION, make_phantom, to_nifti
from model.simulation.phantom.output import _parse_orientation
from model.simulation.phantom.scanner import _grid_geometry


# --------------------------------------------------------------------------------------------------
# Cohort
# --------------------------------------------------------------------------------------------------
def _subject_seed(seed: int, index: int, *extra: int) -> int:
    return int(np.random.SeedSequence((int(seed), int(index), *extra)).generate_state(1, dtype=np.uint32)[0])


def _findings_text(findings: dict) -> str:
    parts = []
    if findings.get("ventricular_dilatation", 1.0) > 1.0:
        parts.append(f"ventricular_dilatation={findings['ventricular_dilatation']:.2f}")
    if findings.get("wm_loss", 0.0) > 0:
        parts.append(f"wm_loss={findings['wm_loss']:.2f}")
    if findings.get("cysts", 0):
        parts.append(f"cysts={findings['cysts']}")
    if findings.get("punctate_lesions", 0):
        parts.append(f"punctate_lesions={findings['punctate_lesions']}")
    return ";".join(parts) or "none"


def _table(rows: list, header: list, delimiter: str) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def write_cohort(
    out_dir,
    n_subjects: int,
    seed: int = 0,
    injured_fraction: float = 0.45,
    spacing_choices=(0.8, 0.86, 1.0),
    orientations=("RAS", "LAS", "LPS"),
    sessions: int = 1,
    progress: bool = False,
) -> Path:
    """Write a BIDS-like simulated cohort and its training manifest.

    Layout::

        out_dir/sub-001/ses-01/anat/sub-001_ses-01_T2w.nii.gz
        out_dir/derivatives/injury/sub-001/ses-01/anat/sub-001_ses-01_desc-injury_mask.nii.gz
        out_dir/participants.tsv   participant_id, label, pma_weeks, findings, ...
        out_dir/dataset_description.json
        out_dir/manifest.csv       path,label,subject (paths relative to out_dir), written last

    Exactly ``round(injured_fraction * n_subjects)`` subjects are injured, chosen by a permutation
    seeded by ``seed``. Subject ``i`` is simulated from a seed derived from ``(seed, i)`` and gets
    its voxel size and on-disk orientation from the same stream, so it is the same infant whatever
    ``n_subjects`` is. Session ``k`` (k >= 2) is a repeat scan of the same infant ``3 (k - 1)``
    weeks later (capped at 44 weeks) with a new acquisition. The injury mask of a scan has the T2's
    grid and affine. Every file is written atomically.

    Parameters
    ----------
    out_dir : str or Path
        Must not exist yet, or be an empty folder.
    n_subjects : int
        At least 1.
    seed : int
    injured_fraction : float
        In [0, 1].
    spacing_choices : sequence of float or 3-tuples
        Voxel sizes (mm) to draw from.
    orientations : sequence of str
        On-disk axis codes to draw from.
    sessions : int
        Scans per subject (at least 1).
    progress : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    Path
        The manifest CSV.

    Raises
    ------
    ValueError
        ``out_dir`` is a file or a non-empty folder, or an argument is out of range.
    """
    out_dir = Path(out_dir)
    n_subjects, sessions = int(n_subjects), int(sessions)
    if n_subjects < 1:
        raise ValueError(f"n_subjects must be at least 1, got {n_subjects}")
    if sessions < 1:
        raise ValueError(f"sessions must be at least 1, got {sessions}")
    if not 0.0 <= float(injured_fraction) <= 1.0:
        raise ValueError(f"injured_fraction must be within [0, 1], got {injured_fraction}")
    if not spacing_choices or not orientations:
        raise ValueError("spacing_choices and orientations must not be empty")
    for o in orientations:
        _parse_orientation(o)
    for s in spacing_choices:
        _grid_geometry(s, None)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir}: exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ValueError(f"{out_dir}: folder is not empty; give a new or empty folder for the cohort")
    out_dir.mkdir(parents=True, exist_ok=True)

    n_injured = int(round(float(injured_fraction) * n_subjects))
    order = np.random.default_rng(np.random.SeedSequence((int(seed), 0x1AB))).permutation(n_subjects)
    injured_flags = np.zeros(n_subjects, bool)
    injured_flags[order[:n_injured]] = True
    width = max(3, len(str(n_subjects)))
    ses_width = max(2, len(str(sessions)))
    participants, manifest = [], []
    jobs = [(i, k) for i in range(n_subjects) for k in range(1, sessions + 1)]
    iterator = jobs
    if progress:
        from tqdm import tqdm

        iterator = tqdm(jobs, desc="simulating", unit="scan", file=sys.stderr)
    first_pma = {}
    for i, k in iterator:
        sub = f"sub-{i + 1:0{width}d}"
        ses = f"ses-{k:0{ses_width}d}"
        rng = np.random.default_rng(np.random.SeedSequence((int(seed), i, k, 0x5E5)))
        spacing = spacing_choices[int(rng.integers(len(spacing_choices)))]
        orientation = orientations[int(rng.integers(len(orientations)))]
        pma = None if k == 1 else min(PMA_RANGE_WEEKS[1], first_pma[i] + 3.0 * (k - 1))
        ph = make_phantom(
            _subject_seed(seed, i),
            bool(injured_flags[i]),
            pma_weeks=pma,
            spacing_mm=spacing,
            acquisition_seed=None if k == 1 else _subject_seed(seed, i, k),
        )
        if k == 1:
            first_pma[i] = ph.pma_weeks
        rel = Path(sub) / ses / "anat" / f"{sub}_{ses}_T2w.nii.gz"
        rel_mask = Path("derivatives") / "injury" / sub / ses / "anat" / f"{sub}_{ses}_desc-injury_mask.nii.gz"
        save_nifti_atomic(to_nifti(ph, orientation), out_dir / rel)
        save_nifti_atomic(to_nifti(ph, orientation, what="injury_mask"), out_dir / rel_mask)
        label = int(ph.injured)
        manifest.append([rel.as_posix(), label, sub])
        if k == 1:
            participants.append(
                [
                    sub,
                    label,
                    f"{ph.pma_weeks:.1f}",
                    _findings_text(ph.findings),
                    _spacing_text(ph.spacing_mm),
                    orientation,
                ]
            )
    write_bytes_atomic(
        out_dir / "participants.tsv",
        _table(participants, ["participant_id", "label", "pma_weeks", "findings", "spacing_mm", "orientation"], "\t"),
    )
    description = {
        "Name": "GloResNet simulated neonatal T2 cohort (parametric phantom, no real data)",
        "BIDSVersion": "1.9.0",
        "DatasetType": "raw",
        "GeneratedBy": [
            {
                "Name": "model.simulation.phantom",
                "Description": f"write_cohort(n_subjects={n_subjects}, seed={seed}, injured_fraction={injured_fraction}, "
                f"sessions={sessions})",
            }
        ],
    }
    write_bytes_atomic(out_dir / "dataset_description.json", (json.dumps(description, indent=2) + "\n").encode())
    manifest_path = out_dir / "manifest.csv"
    write_bytes_atomic(manifest_path, _table(manifest, ["path", "label", "subject"], ","))
    return manifest_path


def _spacing_text(spacing) -> str:
    s = np.asarray(spacing, dtype=float)
    return f"{s[0]:.3g}" if np.allclose(s, s[0]) else "x".join(f"{v:.3g}" for v in s)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model.simulation",
        description="Simulated neonatal T2 brains (parametric phantom, redistributable; not real data).",
    )
    cmds = parser.add_subparsers(dest="command", required=True)
    cohort = cmds.add_parser("cohort", help="write a labelled simulated cohort and manifest.csv")
    cohort.add_argument("out_dir", type=Path, help="new or empty folder")
    cohort.add_argument("--n", type=int, default=40, help="number of subjects (default 40)")
    cohort.add_argument("--seed", type=int, default=0)
    cohort.add_argument("--injured-fraction", type=float, default=0.45)
    cohort.add_argument("--sessions", type=int, default=1)
    sample = cmds.add_parser("sample", help="write one sample T2 volume (40 weeks, LAS, float32)")
    sample.add_argument("out", type=Path, help="output file (.nii or .nii.gz)")
    sample.add_argument("--seed", type=int, default=7)
    sample.add_argument("--injured", action="store_true", help="draw injuries")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status (2 for usage errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "cohort":
        if args.n < 1:
            parser.error("--n must be at least 1")
        try:
            manifest = write_cohort(
                args.out_dir,
                args.n,
                seed=args.seed,
                injured_fraction=args.injured_fraction,
                sessions=args.sessions,
                progress=True,
            )
        except ValueError as exc:
            parser.error(str(exc))
        n_inj = int(round(args.injured_fraction * args.n))
        print(f"wrote {args.n} simulated subjects ({n_inj} injured) to {args.out_dir}; manifest {manifest}")
        return 0
    name = args.out.name.lower()
    if not (name.endswith(".nii") or name.endswith(".nii.gz")):
        parser.error(f"{args.out}: output name must end in .nii or .nii.gz")
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    ph = make_phantom(args.seed, args.injured, pma_weeks=40.0)
    save_nifti_atomic(to_nifti(ph, SAMPLE_ORIENTATION), args.out)
    shape = "x".join(str(n) for n in ph.shape)
    state = "injured (" + _findings_text(ph.findings) + ")" if ph.injured else "normal"
    print(
        f"wrote simulated sample {args.out}: {state}, PMA {ph.pma_weeks:.1f} w, {shape} at "
        f"{_spacing_text(ph.spacing_mm)} mm, {SAMPLE_ORIENTATION}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
