"""Injuries inserted into REAL neonatal anatomy, and degraded copies: a held-out evaluation set.

The training generator draws injuries into our own phantom; this module draws the same four kinds
into the real anatomy of the Serag et al. 2012 templates (28-44 weeks, T2 + Draw-EM tissue labels,
Makropoulos et al. 2015) so that weights can be evaluated on anatomy they never saw
(issue 8 part 4). The set is **never used for training or tuning**.

Label codes (``tissue-labels/regions.csv``): 1 CSF, 2 cortical grey matter, 3 white matter,
5 ventricles, 6 cerebellum + brainstem, 7 deep grey matter, 8/9 high/low intensity white matter.

Injuries (each returns the changed image and the injury mask; the image changes only inside the
mask, whose edge is blended over one voxel *inside* the mask):

* **ventricular dilatation** -- the ventricles grow by 1.5-4 mm into the surrounding white matter
  and deep grey matter (distance transform, scipy), filled with the template's own ventricular
  intensity; mask = the added ventricle;
* **periventricular cysts** -- 1-4 spheres of 3-6 mm diameter in white matter 2-8 mm from the
  ventricles, CSF-bright; mask = the cysts;
* **punctate white-matter lesions** -- 2-8 spheres of 3-4.5 mm diameter (at least about 3 mm, as
  the issue asks) in white matter, T2-dark (0.55-0.7 of the white-matter median);
* **white-matter volume loss** -- the extracerebral CSF widens by 1-2.5 mm into the cortex and the
  posterior ventricles grow ex vacuo by 1-3 mm into white matter; mask = the tissue lost.

Degradations (one per copy, the mask follows the geometry): Rician noise, multiplicative bias
field, Gaussian blur, resampling to 1 x 1 x 2 mm (scipy ``zoom``, linear for the image, nearest
for the mask), and other on-disk voxel orders (exact permutations; no interpolation).

Command::

    python -m model.simulation.real_anatomy --serag ../shared/data/neonatal-serag --out DIR \\
        --n-injured 102 --seed 0

writes ``images/*.nii.gz``, ``masks/*_mask.nii.gz``, ``segs/*_seg.nii.gz`` and ``manifest.csv``
(``path,label,subject,mask,pma_weeks,injuries,degradation,seg``, paths relative to the CSV): every
template once clean and once per degradation (label 0), and ``--n-injured`` injured cases spread
evenly over the templates, each with a random non-empty subset of injuries and a random
degradation or none (label 1). The ``seg`` maps are the reference label maps of the segmentation
head's convention (:mod:`model.segmentation`: the template's Draw-EM tissue labels mapped by
``from_serag``, with the drawn injuries: dilated ventricles 5, lost tissue 1 or 5, cysts 10,
punctate lesions 11) on each copy's own grid, for ``model.evaluate --segmentation``.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from model.fileio import save_nifti_atomic, write_bytes_atomic
from model.segmentation import CYST as SEG_CYST
from model.segmentation import PUNCTATE as SEG_PUNCTATE
from model.segmentation import from_serag

CSF, CORTEX, WM, VENTRICLES, DEEP_GREY = 1, 2, 3, 5, 7
WHITE_MATTER = (3, 8, 9)
INJURIES = ("ventricular_dilatation", "cysts", "punctate_lesions", "wm_loss")
DEGRADATIONS = ("noise", "bias", "blur", "resample_1x1x2", "voxel_order")
OTHER_ORDERS = ("LPS", "PSR", "ASL", "RAI")
#: Post-menstrual ages (weeks) of the Serag templates.
TEMPLATE_WEEKS = tuple(range(28, 45))


@dataclass
class Anatomy:
    """One template on its RAS+ grid: ``t2`` float32 (X, Y, Z), ``labels`` uint8, ``affine`` (4, 4) mm."""

    t2: np.ndarray
    labels: np.ndarray
    affine: np.ndarray
    name: str = ""
    pma_weeks: float | None = None

    @property
    def spacing_mm(self) -> np.ndarray:
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))


@dataclass
class Injured:
    """Result of :func:`insert_injuries`: image float32, injury mask bool, labels, what was drawn.

    ``seg`` is the reference label map in :mod:`model.segmentation`'s convention (uint8), with the
    cysts (10) and punctate lesions (11) as their own labels.
    """

    t2: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    findings: dict = field(default_factory=dict)
    seg: np.ndarray | None = None


def load_anatomy(serag: str | Path, week: int) -> Anatomy:
    """Template ``week`` (28-44) of the Serag folder (``T2/`` and ``tissue-labels/``), as RAS+.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing files, or image and labels on different grids.
    """
    serag = Path(serag)
    t2_path, lab_path = serag / "T2" / f"template-{week}.nii.gz", serag / "tissue-labels" / f"template-{week}.nii.gz"
    for p in (t2_path, lab_path):
        if not p.is_file():
            raise FileNotFoundError(f"{p}: not found (expected the neonatal-serag layout T2/ and tissue-labels/)")
    t2, lab = nib.as_closest_canonical(nib.load(t2_path)), nib.as_closest_canonical(nib.load(lab_path))
    if t2.shape != lab.shape or not np.allclose(t2.affine, lab.affine, atol=1e-3):
        raise ValueError(f"{lab_path}: labels are not on the grid of {t2_path}")
    return Anatomy(
        t2=np.asarray(t2.dataobj, dtype=np.float32),
        labels=np.asarray(lab.dataobj).astype(np.uint8),
        affine=t2.affine.copy(),
        name=f"template-{week}",
        pma_weeks=float(week),
    )


def _blend(image: np.ndarray, mask: np.ndarray, value: np.ndarray | float) -> np.ndarray:
    """``image`` with ``value`` painted into ``mask``; the weight ramps over one voxel inside the mask."""
    if not mask.any():
        return image
    inner = ndi.binary_erosion(mask)
    w = np.where(inner, 1.0, 0.0)
    w[mask & ~inner] = 0.6
    w = np.where(mask, w, 0.0)
    return (image * (1 - w) + np.asarray(value, dtype=np.float32) * w).astype(np.float32)


def _texture(rng: np.random.Generator, shape: tuple, level: float, amount: float = 0.04) -> np.ndarray:
    return (level * (1.0 + amount * ndi.gaussian_filter(rng.standard_normal(shape), 1.0) * 3)).astype(np.float32)


def _spheres(rng, candidates: np.ndarray, n: int, radius_mm: tuple, spacing: np.ndarray, shape: tuple) -> np.ndarray:
    out = np.zeros(shape, bool)
    idx = np.argwhere(candidates)
    if len(idx) == 0:
        return out
    grid = np.indices(shape, sparse=True)
    for centre in idx[rng.choice(len(idx), size=min(n, len(idx)), replace=False)]:
        r = rng.uniform(*radius_mm)
        d2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grid, centre, spacing))
        out |= d2 <= r * r
    return out


def insert_injuries(anatomy: Anatomy, rng: np.random.Generator, kinds: tuple | None = None) -> Injured:
    """Draw injuries into a real template.

    Parameters
    ----------
    anatomy : Anatomy
    rng : numpy Generator
        Seeded by the caller: same seed, same result.
    kinds : tuple of str, optional
        Subset of :data:`INJURIES`; a random non-empty subset when None.

    Returns
    -------
    Injured
        ``t2`` float32, equal to ``anatomy.t2`` outside ``mask``; ``mask`` bool, non-empty.
    """
    if kinds is None:
        kinds = tuple(k for k in INJURIES if rng.random() < 0.5) or (INJURIES[int(rng.integers(len(INJURIES)))],)
    unknown = set(kinds) - set(INJURIES)
    if unknown:
        raise ValueError(f"unknown injuries {sorted(unknown)} (known: {', '.join(INJURIES)})")
    t2, labels, sp = anatomy.t2.copy(), anatomy.labels.copy(), anatomy.spacing_mm
    wm = np.isin(labels, WHITE_MATTER)
    vent = labels == VENTRICLES
    fluid = float(np.median(anatomy.t2[vent])) if vent.any() else float(np.percentile(anatomy.t2[labels > 0], 99))
    wm_level = float(np.median(anatomy.t2[wm]))
    mask = np.zeros(t2.shape, bool)
    findings = {}
    d_vent = ndi.distance_transform_edt(~vent, sampling=sp)
    centroid_y = np.argwhere(vent)[:, 1].mean() if vent.any() else t2.shape[1] / 2
    if "ventricular_dilatation" in kinds:
        grow = float(rng.uniform(1.5, 4.0))
        new = (d_vent > 0) & (d_vent <= grow) & (wm | (labels == DEEP_GREY))
        t2 = _blend(t2, new, _texture(rng, t2.shape, fluid))
        labels[new] = VENTRICLES
        mask |= new
        findings["ventricular_dilatation_mm"] = round(grow, 2)
    if "wm_loss" in kinds:
        outer = float(rng.uniform(1.0, 2.5))
        d_csf = ndi.distance_transform_edt(labels != CSF, sampling=sp)
        lost = (labels == CORTEX) & (d_csf <= outer)
        inner = float(rng.uniform(1.0, 3.0))
        posterior = np.indices(t2.shape)[1] < centroid_y
        ex_vacuo = (d_vent > 0) & (d_vent <= inner) & wm & posterior & ~mask
        csf_level = float(np.median(anatomy.t2[labels == CSF])) if (labels == CSF).any() else fluid
        t2 = _blend(t2, lost, _texture(rng, t2.shape, csf_level))
        t2 = _blend(t2, ex_vacuo, _texture(rng, t2.shape, fluid))
        labels[lost], labels[ex_vacuo] = CSF, VENTRICLES
        mask |= lost | ex_vacuo
        findings["wm_loss_mm"] = [round(outer, 2), round(inner, 2)]
    wm_now = np.isin(labels, WHITE_MATTER) & ~mask
    d_vent = ndi.distance_transform_edt(labels != VENTRICLES, sampling=sp)
    d_edge = ndi.distance_transform_edt(wm_now, sampling=sp)
    if "cysts" in kinds:
        n = int(rng.integers(1, 5))
        where = wm_now & (d_vent >= 2.0) & (d_vent <= 8.0) & (d_edge >= 2.0)
        cysts = _spheres(rng, where, n, (1.5, 3.0), sp, t2.shape) & np.isin(labels, WHITE_MATTER + (DEEP_GREY,))
        t2 = _blend(t2, cysts, _texture(rng, t2.shape, fluid * rng.uniform(1.0, 1.1)))
        labels[cysts] = CSF
        mask |= cysts
        findings["cysts"] = n
    if "punctate_lesions" in kinds:
        n = int(rng.integers(2, 9))
        where = wm_now & (d_edge >= 2.0) & ~mask
        dots = _spheres(rng, where, n, (1.5, 2.25), sp, t2.shape) & np.isin(labels, WHITE_MATTER) & ~mask
        t2 = _blend(t2, dots, _texture(rng, t2.shape, wm_level * rng.uniform(0.55, 0.7)))
        mask |= dots
        findings["punctate_lesions"] = n
    seg = from_serag(labels)
    if "cysts" in kinds:
        seg[cysts] = SEG_CYST
    if "punctate_lesions" in kinds:
        seg[dots] = SEG_PUNCTATE
    return Injured(t2=t2, mask=mask, labels=labels, findings=findings, seg=seg)


def follow_geometry(seg: np.ndarray, affine: np.ndarray, kind: str, orientation: str) -> np.ndarray:
    """A RAS+ label map carried through :func:`degrade`'s geometry (nearest neighbour, no random draws).

    ``kind`` and ``orientation`` are what :func:`degrade` was given and returned.
    """
    if kind == "resample_1x1x2":
        sp = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        return ndi.zoom(seg, sp / np.array([1.0, 1.0, 2.0]), order=0)
    if kind == "voxel_order":
        from model.simulation.phantom import reorient_for_disk

        return reorient_for_disk(seg, affine, orientation)[0]
    return seg


def degrade(t2: np.ndarray, mask: np.ndarray, affine: np.ndarray, kind: str, rng: np.random.Generator):
    """One degraded copy: returns (t2 float32, mask bool, affine (4, 4), on-disk orientation codes).

    ``kind`` is one of :data:`DEGRADATIONS` or ``"none"``. Arrays stay RAS+ except for
    ``voxel_order``, whose arrays are already in the returned orientation's voxel order.
    """
    t2 = t2.astype(np.float32, copy=True)
    brain = t2 > 0
    level = float(np.median(t2[brain])) if brain.any() else 1.0
    orientation = "RAS"
    if kind == "noise":  # Rician: magnitude of complex Gaussian noise, 3-6 % of the brain median
        sigma = level * rng.uniform(0.03, 0.06)
        t2 = np.hypot(t2 + rng.normal(0, sigma, t2.shape), rng.normal(0, sigma, t2.shape)).astype(np.float32)
    elif kind == "bias":  # smooth multiplicative field, +-10-20 %
        field_ = ndi.gaussian_filter(rng.standard_normal(t2.shape), sigma=np.array(t2.shape) / 4.0)
        field_ /= np.abs(field_).max() + 1e-12
        t2 = (t2 * (1.0 + rng.uniform(0.1, 0.2) * field_)).astype(np.float32)
    elif kind == "blur":
        sp = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        t2 = ndi.gaussian_filter(t2, sigma=rng.uniform(0.5, 1.0) / sp).astype(np.float32)
    elif kind == "resample_1x1x2":
        sp = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
        target = np.array([1.0, 1.0, 2.0])
        zoom = sp / target
        old = np.array(t2.shape)
        t2 = ndi.zoom(t2, zoom, order=1).astype(np.float32)
        mask = ndi.zoom(mask.astype(np.uint8), zoom, order=0).astype(bool)
        # scipy zoom maps the first and last voxel centres onto each other
        affine = affine @ np.diag(list((old - 1) / (np.array(t2.shape) - 1)) + [1.0])
    elif kind == "voxel_order":
        from model.simulation.phantom import reorient_for_disk

        orientation = OTHER_ORDERS[int(rng.integers(len(OTHER_ORDERS)))]
        t2, new_affine = reorient_for_disk(t2, affine, orientation)
        mask, _ = reorient_for_disk(mask, affine, orientation)
        affine = new_affine
    elif kind != "none":
        raise ValueError(f"unknown degradation {kind!r} (known: none, {', '.join(DEGRADATIONS)})")
    return t2, mask, affine, orientation


def _image(data: np.ndarray, affine: np.ndarray, dtype=np.float32) -> nib.Nifti1Image:
    img = nib.Nifti1Image(data.astype(dtype), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    img.header.set_xyzt_units("mm", "sec")
    return img


def build_set(
    serag: str | Path, out: str | Path, n_injured: int = 102, seed: int = 0, weeks: list[int] | None = None, log=print
) -> Path:
    """Write the evaluation set (see the module docstring); returns the manifest path.

    Raises
    ------
    FileExistsError
        ``out`` already holds a manifest (never overwritten).
    """
    out = Path(out)
    manifest = out / "manifest.csv"
    if manifest.exists():
        raise FileExistsError(f"{manifest}: exists; choose a new --out folder (an evaluation set is never overwritten)")
    weeks = list(weeks or TEMPLATE_WEEKS)
    rows = []
    ss = np.random.SeedSequence(int(seed))
    per_week = [n_injured // len(weeks) + (1 if i < n_injured % len(weeks) else 0) for i in range(len(weeks))]
    for week, n_inj, child in zip(weeks, per_week, ss.spawn(len(weeks))):
        anatomy = load_anatomy(serag, week)
        streams = child.spawn(1 + len(DEGRADATIONS) + n_inj)
        empty = np.zeros(anatomy.t2.shape, bool)
        cases = [("none", None)] + [(d, None) for d in DEGRADATIONS] + [("injured", s) for s in range(n_inj)]
        for (kind, inj_i), stream in zip(cases, streams):
            rng = np.random.default_rng(stream)
            if kind == "injured":
                injured = insert_injuries(anatomy, rng)
                degradation = ("none",) + DEGRADATIONS
                deg = degradation[int(rng.integers(len(degradation)))]
                t2, mask, affine, orient = degrade(injured.t2, injured.mask, anatomy.affine, deg, rng)
                name, label, findings = f"{anatomy.name}_inj{inj_i:02d}_{deg}", 1, injured.findings
                seg = injured.seg
            else:
                t2, mask, affine, orient = degrade(anatomy.t2, empty, anatomy.affine, kind, rng)
                name, label, findings, deg = f"{anatomy.name}_normal_{kind}", 0, {}, kind
                seg = from_serag(anatomy.labels)
            save_nifti_atomic(_image(t2, affine), out / "images" / f"{name}.nii.gz")
            seg_rel = f"segs/{name}_seg.nii.gz"
            save_nifti_atomic(
                _image(follow_geometry(seg, anatomy.affine, deg, orient), affine, np.uint8), out / seg_rel
            )
            mask_rel = ""
            if label == 1:
                mask_rel = f"masks/{name}_mask.nii.gz"
                save_nifti_atomic(_image(mask, affine, np.uint8), out / mask_rel)
            rows.append(
                {
                    "path": f"images/{name}.nii.gz",
                    "label": label,
                    "subject": anatomy.name,
                    "mask": mask_rel,
                    "pma_weeks": week,
                    "injuries": ";".join(f"{a}={b}" for a, b in findings.items()),
                    "degradation": deg + (f" ({orient})" if deg == "voxel_order" else ""),
                    "seg": seg_rel,
                }
            )
        log(f"{anatomy.name}: {len(cases)} cases")
    buf = io.StringIO()
    w = csv.DictWriter(
        buf,
        ["path", "label", "subject", "mask", "pma_weeks", "injuries", "degradation", "seg"],
        lineterminator="\n",
    )
    w.writeheader()
    w.writerows(rows)
    write_bytes_atomic(manifest, buf.getvalue().encode())
    return manifest


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m model.simulation.real_anatomy",
        description="Held-out evaluation set: injuries inserted into the real Serag anatomy.",
    )
    p.add_argument("--serag", type=Path, required=True, help="neonatal-serag folder (T2/, tissue-labels/)")
    p.add_argument("--out", type=Path, required=True, help="new folder for images/, masks/, manifest.csv")
    p.add_argument("--n-injured", type=int, default=102)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weeks", type=int, nargs="+", help="templates to use (default 28-44)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.n_injured < 0 or any(not 28 <= w <= 44 for w in args.weeks or []):
        print("error: --n-injured must be >= 0 and --weeks within 28-44", file=sys.stderr)
        return 2
    try:
        manifest = build_set(args.serag, args.out, args.n_injured, args.seed, args.weeks)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{manifest}: written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
