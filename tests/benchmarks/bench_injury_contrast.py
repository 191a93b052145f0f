"""Measurement: how strong the injuries are in the network's input, training renders vs real anatomy (prints numbers).

    .venv/bin/python -m tests.benchmarks.bench_injury_contrast [--serag DIR] [--draws 3] [--phantoms 40]

For each injury, the peak |injured - normal| of the preprocessed pair (z-scored, Eq. 4; in units
of the volume's SD), which is what the network has to see:

- real anatomy: each of five Serag templates (28-44 weeks) with one injury kind inserted by the
  real-anatomy mode (:func:`model.simulation.real_anatomy.insert_injuries`), preprocessed at 64^3,
  96^3 and 128^3, so the effect of the grid on a small lesion is measured, not guessed;
- training renders: the training generator's paired renders
  (:class:`model.simulation.synth.PairRenderer`, 64^3) of ``--phantoms`` phantom infants, with the
  number of injury kinds each injured phantom carries.

Not run by pytest. Needs ``../shared/data/neonatal-serag`` for the real part (skipped with a reason
when absent).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from model.preprocessing import PreprocessConfig, preprocess
from model.simulation.real_anatomy import INJURIES, insert_injuries, load_anatomy
from model.simulation.synth import PairRenderer, anatomy_pair

ROOT = Path(__file__).resolve().parents[2]
WEEKS = (28, 32, 36, 40, 44)
GRIDS = (64, 96, 128)


def _peak(a: np.ndarray, b: np.ndarray, n: int) -> float:
    cfg = PreprocessConfig(target_shape=(n, n, n))
    za = preprocess(np.ascontiguousarray(a), cfg).squeeze().numpy()
    zb = preprocess(np.ascontiguousarray(b), cfg).squeeze().numpy()
    return float(np.abs(zb - za).max())


def _n_kinds(findings: dict) -> int:
    """Injury kinds a phantom drew. Its ``ventricular_dilatation`` is 1.0 when absent, and
    white matter loss alone widens the ventricles by (1 + wm_loss) ex vacuo: neither is a drawn
    dilatation."""
    wm_loss = float(findings["wm_loss"])
    dilated = float(findings["ventricular_dilatation"]) > (1.0 + wm_loss) + 0.002
    return int(dilated) + int(wm_loss > 0) + int(findings["cysts"] > 0) + int(findings["punctate_lesions"] > 0)


def _line(name: str, values: list[float]) -> str:
    v = np.asarray(values)
    return (
        f"{name:34s} n {len(v):3d}  peak |dz| median {np.median(v):.2f}  "
        f"(10-90 %: {np.percentile(v, 10):.2f}-{np.percentile(v, 90):.2f})"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--serag", type=Path, default=ROOT.parent / "shared" / "data" / "neonatal-serag")
    p.add_argument("--draws", type=int, default=3, help="injury draws per template and kind")
    p.add_argument("--phantoms", type=int, default=40)
    args = p.parse_args(argv)

    if (args.serag / "T2").is_dir():
        print("real anatomy (Serag templates, one injury kind each):")
        for kind in INJURIES:
            peaks: dict[int, list[float]] = {n: [] for n in GRIDS}
            for week in WEEKS:
                anatomy = load_anatomy(args.serag, week)
                for d in range(args.draws):
                    injured = insert_injuries(anatomy, np.random.default_rng(1000 * week + d), kinds=(kind,))
                    for n in GRIDS:
                        peaks[n].append(_peak(anatomy.t2, injured.t2, n))
            for n in GRIDS:
                print(_line(f"  {kind} at {n}^3", peaks[n]))
    else:
        print(f"real anatomy skipped: no templates under {args.serag / 'T2'}")

    print("training renders (phantom, 64^3, all kinds the phantom drew):")
    renderer = PairRenderer(PreprocessConfig(target_shape=(64, 64, 64)))
    peaks_synth, kinds = [], []
    for s in range(args.phantoms):
        pair = anatomy_pair(5000 + s)
        rendered = renderer.render(pair, s)
        if int(rendered.y[1]) != 1:
            continue
        peaks_synth.append(float((rendered.x[1] - rendered.x[0]).abs().max()))
        kinds.append(_n_kinds(pair.findings))
    print(_line("  injured renders", peaks_synth))
    print(
        f"  injury kinds per injured phantom: mean {np.mean(kinds):.1f}, counts by 0-4 kinds {np.bincount(kinds, minlength=5).tolist()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
