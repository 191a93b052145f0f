"""Where does the real-anatomy gap come from? One command that splits it into anatomy and appearance.

Weights trained on the synthetic generator score lower on injuries drawn into real anatomy
(:mod:`model.simulation.real_anatomy`) than on held-out phantoms. Two things differ between those
sets at once: the **anatomy** (the phantom's shapes against a real brain's) and the **appearance**
(our Gaussian-mixture renders against a real T2), and the **injury mechanism** differs too (the
phantom's parametric injuries against the real-anatomy mode's distance-transform ones). This
command scores the same weights on three sets, all rendered by the training generator
(:class:`model.simulation.synth.PairRenderer`), so appearance is held fixed:

``phantom``
    phantom anatomy with the phantom's own injuries (what training sees);
``phantom+real-mode injuries``
    phantom anatomy with the real-anatomy mode's injuries (:func:`real_anatomy.insert_injuries`
    on the phantom's label map): isolates the injury mechanism;
``serag anatomy``
    the real Serag label maps with the real-anatomy mode's injuries: isolates the anatomy.

A drop from the second to the third is the anatomy gap; a drop from the third to the real-image
evaluation (``python -m model.evaluate``) would be the appearance gap. The Serag maps are only
*evaluated* here, never trained on (``../shared/README.md``).

Command::

    python -m model.simulation.anatomy_gap --weights resources/weights/demo [runs/other ...] \\
        --serag ../shared/data/neonatal-serag [--per-template 3] [--phantoms 40] [--out gap.json]

(several weights folders are scored on the same renders). Measured on 2026-12-02 with the 0.3.0
weights and the generator they were trained with (elastic field 0.04 of the FOV, 5^3, not
integrated), 51 / 40 / 51 pairs: phantom AUC 0.83, phantom + real-mode injuries 0.86, Serag
anatomy 0.68, against 0.80 on the real images. The injury mechanism transfers; the anatomy does
not.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from model.errors import GloResNetError
from model.fileio import write_bytes_atomic
from model.simulation import real_anatomy as ra
from model.simulation.phantom import CSF, DEEP_GM, WHITE_MATTER
from model.simulation.synth import CYST, PUNCTATE, AnatomyPair

#: Serag label codes folded into the render labels: 8/9 (high/low intensity WM) are white matter.
_SERAG_WM = (8, 9)
#: Spacing (mm) the phantom is drawn at for the real-anatomy mode's mm-sized injuries.
PHANTOM_SPACING_MM = 0.86
SETS = ("phantom", "phantom+real-mode injuries", "serag anatomy")


def render_labels(labels: np.ndarray) -> np.ndarray:
    """Serag/phantom tissue codes as the generator's render labels (uint8, same shape).

    Serag codes 8 and 9 (high/low intensity white matter) become white matter (3); codes 0-7
    are shared with :mod:`model.simulation.phantom`.
    """
    out = np.asarray(labels).astype(np.uint8, copy=True)
    out[np.isin(out, _SERAG_WM)] = WHITE_MATTER
    return out


def label_pair(normal_labels: np.ndarray, injured: ra.Injured, spacing_mm: float, pma_weeks: float) -> AnatomyPair:
    """The generator's :class:`AnatomyPair` of one real-anatomy-mode injury.

    Parameters
    ----------
    normal_labels : np.ndarray, shape (X, Y, Z), integer
        Tissue labels before the injury (Serag or phantom codes).
    injured : real_anatomy.Injured
        :func:`real_anatomy.insert_injuries` on those labels; its ``labels`` and ``mask`` are used.
    spacing_mm : float
        Isotropic voxel size of the maps (mm).
    pma_weeks : float

    Returns
    -------
    AnatomyPair
        Cysts (new CSF inside white or deep grey matter) get the render class ``CYST`` and punctate
        lesions (masked voxels whose label did not change) ``PUNCTATE``, as
        :func:`model.simulation.synth.anatomy_pair` does for the phantom's own injuries. The maps
        differ exactly where the injury was drawn.
    """
    lab_n = render_labels(normal_labels)
    lab_i = render_labels(injured.labels)
    if lab_i.shape != lab_n.shape:
        raise ValueError(f"injured labels {lab_i.shape} are not on the grid of the normal labels {lab_n.shape}")
    cyst = injured.mask & (lab_i == CSF) & np.isin(lab_n, (WHITE_MATTER, DEEP_GM))
    punct = injured.mask & (lab_i == lab_n) & (lab_n == WHITE_MATTER)
    lab_i[cyst] = CYST
    lab_i[punct] = PUNCTATE
    return AnatomyPair(lab_n, lab_i, lab_n != lab_i, float(spacing_mm), float(pma_weeks), dict(injured.findings), 0)


def measure(
    weights: Path | list[Path],
    serag: Path,
    per_template: int = 3,
    phantoms: int = 40,
    seed: int = 0,
    log=print,
    weeks: tuple = ra.TEMPLATE_WEEKS,
) -> dict:
    """Score one or more weights folders on the three sets of the module docstring.

    Every pair is rendered once and scored by every weights folder, so several weights are compared
    on identical inputs (they must share the card's preprocessing grid and crop).

    Returns
    -------
    dict
        ``{"results": [{"weights": folder, "threshold": t, set: metrics, ...}, ...]}`` in the
        order given; per set: ``n_pairs``, ``auc`` (sklearn
        ``roc_auc_score`` over the normal and the injured render of every pair), ``sensitivity``
        and ``specificity`` at that card's threshold, median P(injury) of normal and injured
        renders, and (real-mode injuries) the mean injured P per injury kind.

    Raises
    ------
    FileNotFoundError
        ``serag`` lacks the ``T2/`` + ``tissue-labels/`` templates.
    ValueError
        The weights folders use different preprocessing grids or crops.
    CheckpointError
        A weights folder cannot be loaded.
    """
    for week in weeks:  # fail fast, before minutes of rendering
        for sub in ("T2", "tissue-labels"):
            if not (Path(serag) / sub / f"template-{week}.nii.gz").is_file():
                raise FileNotFoundError(
                    f"{Path(serag) / sub / f'template-{week}.nii.gz'}: not found "
                    "(expected the neonatal-serag layout T2/ and tissue-labels/)"
                )
    import torch
    from sklearn.metrics import roc_auc_score

    from model.checkpoint import load_weights
    from model.inference import tta_probabilities
    from model.simulation.synth import PairRenderer, anatomy_pair

    folders = [Path(weights)] if isinstance(weights, (str, Path)) else [Path(w) for w in weights]
    loaded = [load_weights(w) for w in folders]
    grids = {(tuple(w.card.preprocessing.target_shape), w.card.preprocessing.crop) for w in loaded}
    if len(grids) != 1:
        raise ValueError(
            f"the weights use different input grids or crops {sorted(grids)}; compare weights of one preprocessing"
        )
    models = [w.model.eval() for w in loaded]
    renderer = PairRenderer(loaded[0].card.preprocessing)

    def score(x):
        out = []
        with torch.no_grad():
            for m in models:
                a, b = tta_probabilities(m, x)
                out.append(0.5 * (a + b))
        return out

    rows: dict[str, list] = {name: [] for name in SETS}

    def add(name, pair, render_seed, kinds):
        r = renderer.render(pair, seed=render_seed)
        rows[name].append(([(float(p[0]), float(p[1])) for p in score(r.x)], int(r.y[1]), kinds))

    rng_seed = 1_000_003 * (seed + 1)
    for k in range(phantoms):
        s = 5_600_000 + rng_seed % 1000 + k
        add("phantom", anatomy_pair(s), 44_000 + k, "")
        ph = anatomy_pair(s, spacing_mm=PHANTOM_SPACING_MM)
        an = ra.Anatomy(
            t2=ph.normal.astype(np.float32),
            labels=ph.normal.copy(),
            affine=np.diag([PHANTOM_SPACING_MM] * 3 + [1.0]),
        )
        inj = ra.insert_injuries(an, np.random.default_rng(rng_seed + k))
        add(SETS[1], label_pair(ph.normal, inj, PHANTOM_SPACING_MM, ph.pma_weeks), 45_000 + k, _kinds(inj))
        log(f"phantom {k + 1}/{phantoms}")
    for week in weeks:
        anatomy = ra.load_anatomy(serag, week)
        anatomy.labels = render_labels(anatomy.labels)
        for k in range(per_template):
            inj = ra.insert_injuries(anatomy, np.random.default_rng(rng_seed + 1000 * week + k))
            pair = label_pair(anatomy.labels, inj, float(anatomy.spacing_mm[0]), float(week))
            add(SETS[2], pair, 77_000 + 10 * week + k, _kinds(inj))
        log(f"template {week}")

    results = []
    for i, (folder, w) in enumerate(zip(folders, loaded)):
        threshold = float(w.card.decision_threshold)
        res: dict = {"weights": str(folder), "threshold": threshold}
        for name, r in rows.items():
            p0 = np.array([v[0][i][0] for v in r])
            p1 = np.array([v[0][i][1] for v in r])
            y1 = np.array([v[1] for v in r], dtype=int)
            entry = {
                "n_pairs": len(r),
                "auc": float(roc_auc_score(np.r_[np.zeros(len(p0)), y1], np.r_[p0, p1])) if y1.any() else None,
                "sensitivity": float(np.mean(p1[y1 == 1] >= threshold)) if y1.any() else None,
                "specificity": float(np.mean(p0 < threshold)) if len(p0) else None,
                "median_p_normal": float(np.median(p0)) if len(p0) else None,
                "median_p_injured": float(np.median(p1[y1 == 1])) if y1.any() else None,
            }
            if name != "phantom":
                entry["mean_p_injured_by_kind"] = {
                    kind: float(p1[[kind in v[2] for v in r]].mean())
                    for kind in ra.INJURIES
                    if any(kind in v[2] for v in r)
                }
            res[name] = entry
        results.append(res)
    return {"results": results, "per_template": per_template, "phantoms": phantoms, "seed": seed}


def _kinds(inj: ra.Injured) -> str:
    return "+".join(k for k in ra.INJURIES if any(f.startswith(k) for f in inj.findings))


def _fmt(v, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m model.simulation.anatomy_gap", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--weights", required=True, type=Path, nargs="+", help="one or more weights folders, scored on the same renders"
    )
    p.add_argument("--serag", required=True, type=Path, help="the neonatal-serag folder (T2/, tissue-labels/)")
    p.add_argument("--per-template", type=int, default=3, help="injured pairs per Serag template")
    p.add_argument("--phantoms", type=int, default=40, help="phantom pairs per phantom set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, help="write the result as JSON here (atomically)")
    args = p.parse_args(argv)
    try:
        res = measure(
            args.weights,
            args.serag,
            args.per_template,
            args.phantoms,
            args.seed,
            log=lambda m: print(m, file=sys.stderr, flush=True),
        )
    except (FileNotFoundError, ValueError, GloResNetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{'weights':<30} {'set':<28} {'pairs':>5} {'AUC':>6} {'sens':>5} {'spec':>5}  median P normal / injured")
    for per in res["results"]:
        folder = per["weights"]
        for name in SETS:
            r = per[name]
            print(
                f"{folder[-30:]:<30} {name:<28} {r['n_pairs']:>5} {_fmt(r['auc'], 3):>6} {_fmt(r['sensitivity']):>5} "
                f"{_fmt(r['specificity']):>5}  {_fmt(r['median_p_normal'], 3)} / {_fmt(r['median_p_injured'], 3)}"
            )
    if args.out:
        write_bytes_atomic(args.out, json.dumps(res, indent=2).encode())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
