"""Domain-randomised training images rendered from phantom label maps (the SynthSeg idea, for a classifier).

SynthSeg (Billot et al., Medical Image Analysis 86, 2023) trains on images synthesised on the fly
from anatomical label maps with everything but anatomy randomised, so that contrast, resolution and
texture carry no signal and the network transfers to real scans. Here the same is done for the
injury classifier: our phantom (:mod:`model.simulation.phantom`) provides the anatomy and the
injuries as label maps; this module randomises everything else and renders a *pair* per draw, the
infant without and with its injuries under the *same* nuisance draw, so that the only difference a
network can learn is the injury.

What is the library's and what is ours
--------------------------------------
The augmentation maths is cornucopia's (Balbastre et al., github.com/balbasty/cornucopia, MIT;
written by SynthSeg's group for SynthSeg-style synthesis, pure PyTorch, so it runs on the GPU
when there is one): affine + elastic deformation (:class:`cornucopia.RandomAffineElasticTransform`,
nearest-neighbour for labels), the per-label Gaussian mixture with within-class texture
(:class:`cornucopia.GaussianMixtureTransform`), the multiplicative bias field
(:class:`cornucopia.RandomMulFieldTransform`), gamma (:class:`cornucopia.RandomGammaTransform`),
thick slices (:class:`cornucopia.RandomLowResSliceTransform`, blur then downsample along one axis)
and noise (:class:`cornucopia.RandomGaussianNoiseTransform`). TorchIO was measured first: its
elastic deformation (SimpleITK B-splines) took 0.12 s per 64^3 label map on one core, several
times our whole budget per sample, and it cannot run on a GPU.

Ours: the anatomy and injuries (the phantom), the render labels (:data:`RENDER_LABELS`: tissue
sub-classes, cysts and punctate lesions as their own classes), the contrast prior (neonatal T2
ordering with wide random jitter, :func:`draw_contrast`), the field-of-view randomisation, the
pairing, partial volume (label maps are deformed on a grid :data:`SUPERSAMPLE` times finer than
the network grid and each network voxel mixes its sub-voxels' classes, :func:`class_fractions`,
as a real scan's voxels mix tissues before trilinear preprocessing), and the label rule: a
render is "injury" when at least :data:`MIN_INJURY_MM3` of injury survives in the *final*
(deformed, cropped) label map, not because injuries were asked for.

Ranges (checked against SynthSeg's published generator settings and cornucopia's defaults):
rotation +-15 deg, scaling 0.8-1.2, elastic displacement up to 8 % of the field of view on up to 8^3
control points, integrated to a diffeomorphism (:data:`ELASTIC_DMAX_FOV`; control fields upsampled
linearly, as in SynthSeg; cornucopia's cubic default doubled the render time), bias
field strength up to 0.5, gamma exp(N(0, 0.25)), slice spacing up to 2.5 network voxels (about
4 mm at a 64^3 grid over a neonatal head), noise SD up to 0.06 of the intensity range, field of view
from the tight brain box to 1.6x it per axis, skull and scalp rendered in half of the draws.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from model.preprocessing import PreprocessConfig, margin_box, zscore
from model.segmentation import NON_BRAIN, render_fractions_to_channels
from model.simulation.phantom import (
    BACKGROUND,
    CEREBELLUM_BRAINSTEM,
    CORTEX,
    CSF,
    DEEP_GM,
    VENTRICLES,
    WHITE_MATTER,
    make_phantom,
)

#: Extra render classes beyond the phantom's tissue codes (0-7).
CYST, PUNCTATE = 8, 9
#: Tissue sub-classes: WM and cortex are split in two by a smooth random field (texture at the
#: scale of gyri and WM heterogeneity); the second sub-class lives at code + SUBCLASS_OFFSET.
SUBCLASS_OFFSET = 10
_PACK = 32  # normal * _PACK + injured packs a pair into one integer map
RENDER_LABELS = {
    0: "outside the head",
    CSF: "extra-cerebral CSF",
    CORTEX: "cortical grey matter",
    WHITE_MATTER: "white matter",
    BACKGROUND: "skull and scalp",
    VENTRICLES: "ventricles",
    CEREBELLUM_BRAINSTEM: "cerebellum + brainstem",
    DEEP_GM: "deep grey matter",
    CYST: "cyst (injury)",
    PUNCTATE: "punctate lesion (injury)",
    CORTEX + SUBCLASS_OFFSET: "cortical grey matter, sub-class 2",
    WHITE_MATTER + SUBCLASS_OFFSET: "white matter, sub-class 2",
}
N_RENDER_CLASSES = max(RENDER_LABELS) + 1
_NON_BRAIN_CHANNEL = NON_BRAIN  # the non-brain label (4) is also its channel index
#: Smallest injury volume (mm^3) in the final label map for a render to be labelled "injury".
MIN_INJURY_MM3 = 14.0  # one 3 mm sphere
#: Phantom grid spacing of the anatomy bank (mm).
BANK_SPACING_MM = 1.6
#: Label maps are deformed on a grid this many times finer than the network grid per axis and
#: each network voxel mixes its sub-voxels' classes (partial volume).
SUPERSAMPLE = 2
#: Elastic deformation of the label maps (cornucopia ``RandomAffineElasticTransform``): control
#: displacements uniform in +-d, d ~ U(0, ELASTIC_DMAX_FOV) of the field of view (up to about 11 mm
#: over a neonatal head), on a random 2^3..ELASTIC_CONTROL_POINTS^3 control grid, treated as a
#: stationary velocity field and integrated by ELASTIC_STEPS scaling-and-squaring steps so that the
#: deformation stays diffeomorphic (no folds; SynthSeg integrates its field the same way). Measured
#: reason for this strength: with the weaker field used before (0.04, 5^3, not integrated) the
#: weights found injuries drawn into phantom anatomy (AUC 0.86) but not the same injuries drawn
#: into real Serag anatomy and rendered by this same generator (AUC 0.68): they had learned the
#: phantom's shapes as "normal". Wider shape variation is the generator's answer.
ELASTIC_DMAX_FOV = 0.08
ELASTIC_CONTROL_POINTS = 8
ELASTIC_STEPS = 4


@dataclass
class AnatomyPair:
    """One simulated infant as label maps, without and with its injuries (same anatomy).

    Attributes
    ----------
    normal, injured : np.ndarray, shape (X, Y, Z), uint8
        Render labels (:data:`RENDER_LABELS`) on a RAS+ grid of ``spacing_mm``.
    injury_mask : np.ndarray, shape (X, Y, Z), bool
        Where ``injured`` differs from ``normal`` (ventricle excess, cysts, punctate lesions,
        tissue lost and the cortex moved by white matter loss).
    spacing_mm : float
    pma_weeks : float
    findings : dict
        The phantom's findings (see :class:`model.simulation.phantom.Phantom`).
    seed : int
    """

    normal: np.ndarray
    injured: np.ndarray
    injury_mask: np.ndarray
    spacing_mm: float
    pma_weeks: float
    findings: dict = field(default_factory=dict)
    seed: int = 0


def anatomy_pair(seed: int, spacing_mm: float = BANK_SPACING_MM, pma_weeks: float | None = None) -> AnatomyPair:
    """The phantom of ``seed`` as render label maps, normal and injured (0.4 s at 1.6 mm).

    Cysts (T2-bright, labelled CSF by the phantom) and punctate lesions (T2-dark, in white matter)
    get their own render classes so that the contrast prior can keep them bright and dark.

    Raises
    ------
    ValueError
        As :func:`model.simulation.phantom.make_phantom`.
    """
    normal = make_phantom(seed, False, pma_weeks=pma_weeks, spacing_mm=spacing_mm)
    injured = make_phantom(seed, True, pma_weeks=pma_weeks, spacing_mm=spacing_mm)
    lab_n = normal.labels.copy()
    lab_i = injured.labels.copy()
    mask = injured.injury_mask.copy()
    brain_n = (lab_n != 0) & (lab_n != BACKGROUND)
    # cysts: new fluid inside what was brain parenchyma (not ventricle excess, not lost tissue at the surface)
    cyst = mask & (lab_i == CSF) & np.isin(lab_n, (WHITE_MATTER, DEEP_GM))
    punct = mask & (lab_i == WHITE_MATTER)
    punct |= mask & (lab_i > DEEP_GM)  # the phantom's own lesion code, if any
    lab_i[cyst] = CYST
    lab_i[punct] = PUNCTATE
    del brain_n
    # The injury is where the two maps differ: white matter loss also moves the cortex inwards,
    # which the phantom's own mask (tissue lost) does not mark.
    mask = lab_n != lab_i
    return AnatomyPair(
        lab_n.astype(np.uint8),
        lab_i.astype(np.uint8),
        mask,
        float(spacing_mm),
        float(injured.pma_weeks),
        dict(injured.findings),
        int(seed),
    )


def draw_contrast(rng: np.random.Generator, skull: bool) -> tuple[np.ndarray, np.ndarray]:
    """Random per-class means and SDs (intensity 0-1) under a neonatal-T2 ordering prior.

    CSF and ventricles brightest, unmyelinated white matter brighter than cortex and deep grey
    matter (METHOD.md, "Useful facts"); each tissue's mean jitters widely inside that order, so
    absolute intensity and tissue ratios carry no signal. Cysts follow CSF; punctate lesions are
    darker than white matter (0.25-0.75 of it: real punctate lesions range from faint to very
    dark). Skull/scalp is rendered (random, often bright fat) when ``skull``,
    else zero like a brain-extracted scan.

    The Serag templates (28-44 weeks; measured only, never trained on) sit at this prior's edge:
    median extra-cerebral CSF 0.64-0.81 of the ventricles' intensity (prior 0.9-1.0), cortex/white
    matter 0.78-0.90 and white matter only 0.05 above cortex at 44 weeks (prior gap at least 0.08).
    A prior widened to cover them (extra-cerebral CSF 0.6-1.0, cortex and deep grey 0.4-0.97 of
    white matter) was trained and measured (run synth-v9, resources/README.md): it scored better on
    its own renders but worse on the real images (real-anatomy AUC 0.75 against 0.77 for synth-v8,
    the same recipe on this prior), so this prior stays.

    Returns
    -------
    mu, sigma : np.ndarray, shape (N_RENDER_CLASSES,), float32
    """
    mu = np.zeros(N_RENDER_CLASSES, np.float32)
    csf = rng.uniform(0.75, 1.0)
    wm = rng.uniform(0.42, 0.72)
    cortex = rng.uniform(0.15, wm - 0.08)
    mu[CSF] = csf * rng.uniform(0.9, 1.0)
    mu[VENTRICLES] = csf
    mu[WHITE_MATTER] = wm
    mu[WHITE_MATTER + SUBCLASS_OFFSET] = np.clip(wm + rng.normal(0, 0.05), cortex + 0.04, csf - 0.05)
    mu[CORTEX] = cortex
    mu[CORTEX + SUBCLASS_OFFSET] = np.clip(cortex + rng.normal(0, 0.04), 0.08, wm - 0.04)
    mu[DEEP_GM] = rng.uniform(0.12, wm - 0.05)
    mu[CEREBELLUM_BRAINSTEM] = rng.uniform(0.2, wm)
    mu[CYST] = csf * rng.uniform(0.85, 1.0)
    mu[PUNCTATE] = wm * rng.uniform(0.25, 0.75)
    mu[BACKGROUND] = rng.uniform(0.1, 0.9) if skull else 0.0
    mu[0] = rng.uniform(0.0, 0.06) if rng.random() < 0.4 else 0.0
    sigma = (mu * rng.uniform(0.02, 0.10, N_RENDER_CLASSES)).astype(np.float32)
    sigma[0] = rng.uniform(0.0, 0.02)
    return mu, sigma


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)


def _random_fov(rng: np.random.Generator, shape: tuple) -> tuple[tuple, tuple]:
    """Per-axis (pad_before, pad_after) and (crop_before, crop_after), in voxels."""
    pads, crops = [], []
    for n in shape:
        extra = rng.uniform(-0.05, 0.6) * n  # from a slightly cut brain box to 1.6x it
        before = rng.uniform(0.25, 0.75) * extra
        b, a = int(round(before)), int(round(extra - before))
        pads.append((max(b, 0), max(a, 0)))
        crops.append((max(-b, 0), max(-a, 0)))
    return tuple(pads), tuple(crops)


def _fit_fov(labels: np.ndarray, pads, crops) -> np.ndarray:
    out = np.pad(labels, pads, mode="constant")
    sl = tuple(slice(c0, out.shape[i] - c1) for i, (c0, c1) in enumerate(crops))
    return out[sl]


def _crop_to_head(lab: torch.Tensor, skull: bool, margin: float, rng: np.random.Generator):
    """Cut packed fine label maps to the head box (+ a margin of 0.5-2x ``margin`` per side) and
    resize them back to their shape (nearest). Returns the maps and the kept fraction per axis.

    The head is what preprocessing's Otsu object would find on the render: brain and CSF, plus
    skull and scalp when they are rendered (``skull``).
    """
    fine = tuple(lab.shape)
    normal, injured = lab // _PACK, lab % _PACK
    fg = torch.zeros_like(lab, dtype=torch.bool)
    for m in (normal, injured):
        fg |= (m != 0) & (m != BACKGROUND) if not skull else (m != 0)
    margins = [tuple(margin * rng.uniform(0.5, 2.0, 2)) for _ in fine]
    box = margin_box(fg.cpu().numpy(), margins)
    kept = lab[box]
    frac = [b.stop - b.start for b in box]
    out = F.interpolate(kept[None, None].float(), size=fine, mode="nearest")[0, 0].round().long()
    return out, np.array(frac, float) / np.array(fine, float)


@dataclass
class RenderedPair:
    """A rendered pair on the network grid, preprocessed like a real scan (z-scored, Eq. 4).

    Attributes
    ----------
    x : torch.Tensor, shape (2, 1, D, H, W), float32
        [normal, injured] network inputs.
    y : torch.Tensor, shape (2,), int64
        Labels derived from the final label maps (the injured render is 0 when its injury was
        deformed or cropped away below :data:`MIN_INJURY_MM3`).
    mask : torch.Tensor, shape (2, 1, D, H, W), float32
        Injury mask on the network grid: voxels holding any injured sub-voxel of the final maps
        (all zero for the normal render).
    labels : torch.Tensor, shape (2, D, H, W), int64
        Final render label maps on the network grid (the first sub-voxel of each voxel; the
        images themselves mix all sub-voxels, see :func:`class_fractions`).
    injury_mm3 : float
        Injury volume in the final (fine) maps.
    raw : torch.Tensor, shape (2, D, H, W), float32
        The pair before z-scoring (identical outside the injury, up to the blur of thick slices).
    seg : torch.Tensor or None, shape (2, N_SEG_CLASSES, D, H, W), float16
        Soft segmentation targets: each network voxel's partial-volume fractions of the decoder's
        classes (:data:`model.segmentation.SEG_CLASSES`) in the final maps. When the skull was
        not rendered (a brain-extracted look) the non-brain class counts as outside the head.
    """

    x: torch.Tensor
    y: torch.Tensor
    mask: torch.Tensor
    labels: torch.Tensor
    injury_mm3: float
    raw: torch.Tensor
    seg: torch.Tensor | None = None


class PairRenderer:
    """Renders :class:`AnatomyPair` s into domain-randomised, paired network inputs.

    Parameters
    ----------
    cfg : PreprocessConfig
        The network grid (the model card's preprocessing); output inputs are z-scored over all
        voxels as :func:`model.preprocessing.preprocess` does for real scans.
    device : torch.device or str
        Where cornucopia runs (``cuda`` when there is one).
    """

    def __init__(self, cfg: PreprocessConfig, device: torch.device | str = "cpu", supersample: int = SUPERSAMPLE):
        import cornucopia as cc

        if int(supersample) < 1:
            raise ValueError(f"supersample must be >= 1, got {supersample}")
        self.cfg = cfg
        self.device = torch.device(device)
        self.supersample = int(supersample)
        # order=1: the 5^3 control fields are upsampled linearly, as SynthSeg's generator does
        # (its deformation and bias fields are resized with linear interpolation); cubic splines
        # (cornucopia's default) cost twice the whole render on a CPU for no visible difference.
        self.spatial = cc.RandomAffineElasticTransform(
            dmax=ELASTIC_DMAX_FOV,
            shape=ELASTIC_CONTROL_POINTS,
            steps=ELASTIC_STEPS,
            rotations=15,
            zooms=0.2,
            translations=0.05,
            unit="fov",
            bound="zeros",
            nearest_if_label=True,
            order=1,
            shared=True,
        )
        self.smooth = cc.RandomSmoothTransform(fwhm=1.5, shared=True)
        self.bias = cc.RandomMulFieldTransform(shape=5, vmax=1.0, order=1, shared=True)
        self.gamma = cc.RandomGammaTransform(gamma=(0.6, 1.6), shared=True)
        self.lowres = cc.RandomLowResSliceTransform(resolution=2.5, thickness=0.5, shared=True)
        self.noise = cc.RandomGaussianNoiseTransform(sigma=0.06, shared=True)
        self._cc = cc

    def _coarse_ids(self, grid: tuple, s: int, device) -> torch.Tensor:
        key = (grid, s, str(device))
        if getattr(self, "_ids_key", None) != key:
            self._ids, self._ids_key = coarse_ids(grid, s, device), key
        return self._ids

    def render(self, pair: AnatomyPair, seed: int) -> RenderedPair:
        """Render ``pair`` under one nuisance draw fixed by ``seed`` (same seed, same tensors)."""
        cc = self._cc
        rng = np.random.default_rng(seed)
        grid = tuple(int(n) for n in self.cfg.target_shape)
        s = self.supersample
        fine = tuple(n * s for n in grid)
        pads, crops = _random_fov(rng, pair.normal.shape)
        # normal and injured in one integer map, so that one deformation moves both exactly alike
        both = pair.normal.astype(np.int32) * _PACK + pair.injured
        both = _fit_fov(both, pads, crops)
        fov_mm = np.array(both.shape) * pair.spacing_mm
        voxel_mm3 = float(np.prod(fov_mm / np.array(grid)))
        # the whole field of view onto the fine grid (supersample x the network grid)
        lab = torch.from_numpy(both).to(self.device)[None, None].float()
        lab = F.interpolate(lab, size=fine, mode="nearest")[0].round().long()
        torch_seed = int(rng.integers(2**31))
        _seed_all(torch_seed)
        lab = self.spatial(lab)[0]
        skull = None
        if self.cfg.crop == "head":
            # As preprocessing crops a real scan to its head box (model.preprocessing.crop_box),
            # the final (deformed) maps are cut to the box of what will be bright, with a jittered
            # margin around the crop's own, and brought back onto the fine grid.
            skull = bool(rng.random() < 0.5)
            lab, frac = _crop_to_head(lab, skull, self.cfg.crop_margin, rng)
            voxel_mm3 *= float(np.prod(frac))
        fine_maps = torch.stack([lab // _PACK, lab % _PACK])
        # sub-classes of WM and cortex from one smooth random field (shared by the pair)
        sub = _smooth_noise(rng, fine, self.device) > float(rng.normal(0, 0.5))
        for tissue in (WHITE_MATTER, CORTEX):
            fine_maps[(fine_maps == tissue) & sub] = tissue + SUBCLASS_OFFSET
        injured_fine = (fine_maps[0] != fine_maps[1]).float()[None, None]
        # the injury, as it survives in the final maps: network voxels holding any injured sub-voxel
        mask = F.max_pool3d(injured_fine, s)[0] if s > 1 else injured_fine[0]
        injury_mm3 = float(injured_fine.sum().item()) * voxel_mm3 / s**3
        # partial volume: each network voxel mixes the classes of its s^3 sub-voxels, as a real
        # scan's voxels mix tissues before trilinear preprocessing; thin rims and 3 mm lesions then
        # look on the network grid as they do in a real scan instead of all-or-nothing voxels.
        weights = class_fractions(fine_maps, grid, s, self._coarse_ids(grid, s, fine_maps.device))  # (2, K, *grid)
        maps = fine_maps[:, ::s, ::s, ::s]  # the final label maps on the network grid (one sub-voxel each)
        if skull is None:
            skull = bool(rng.random() < 0.5)
        seg = render_fractions_to_channels(weights)
        if not skull:  # nothing distinguishes unrendered skull from outside the head
            seg[:, 0] += seg[:, _NON_BRAIN_CHANNEL]
            seg[:, _NON_BRAIN_CHANNEL] = 0
        mu, sigma = draw_contrast(rng, skull)
        gmm = cc.GaussianMixtureTransform(mu=mu.tolist(), sigma=sigma.tolist(), fwhm=0)
        images = []
        for k in range(2):
            _seed_all(torch_seed + 1)  # the same per-voxel draws for both maps
            images.append(gmm(weights[k]))
        _seed_all(torch_seed + 2)
        img = torch.cat(images).clamp_min(0)  # (2, D, H, W): channels share every draw below
        img = self.smooth(img)
        img = self.bias(img)
        img = img / img.amax().clamp_min(1e-6)
        img = self.gamma(img)
        img = self.lowres(img)
        img = self.noise(img)
        raw = img.clone()
        x = torch.stack([zscore(img[k : k + 1], self.cfg.eps) for k in range(2)])  # Eq. 4, as for a real scan
        y = torch.tensor([0, int(injury_mm3 >= MIN_INJURY_MM3)])
        masks = torch.stack([torch.zeros_like(mask), mask if y[1] else torch.zeros_like(mask)])
        return RenderedPair(x.float(), y, masks, maps.cpu(), injury_mm3, raw.cpu(), seg.half().cpu())


def coarse_ids(grid: tuple, s: int, device="cpu") -> torch.Tensor:
    """Flat index (C order) of the network voxel holding each voxel of the ``s``-times finer grid.

    Returns
    -------
    torch.Tensor, shape (prod(grid) * s^3,), int64, in C order of the fine grid
    """
    axes = [torch.arange(n * s, device=device) // s for n in grid]
    ix, iy, iz = torch.meshgrid(*axes, indexing="ij")
    return ((ix * grid[1] + iy) * grid[2] + iz).reshape(-1)


def class_fractions(fine_maps: torch.Tensor, grid: tuple, s: int, ids: torch.Tensor | None = None) -> torch.Tensor:
    """Partial-volume class weights: the fraction of each network voxel's s^3 sub-voxels in each class.

    Equal to average-pooling the one-hot maps by ``s`` (``F.avg_pool3d``), computed with one
    ``torch.bincount`` over (map, network voxel, class) instead of one pooled channel per class.

    Parameters
    ----------
    fine_maps : torch.Tensor, shape (M, *[n * s for n in grid]), int64
        Render labels (< :data:`N_RENDER_CLASSES`) on the fine grid.
    grid : tuple of 3 int
        Network grid.
    s : int
        Supersampling factor.
    ids : torch.Tensor, optional
        :func:`coarse_ids` of ``(grid, s)`` (computed when None).

    Returns
    -------
    torch.Tensor, shape (M, N_RENDER_CLASSES, *grid), float32; sums to 1 over classes
    """
    m, n_vox, n_cls = fine_maps.shape[0], math.prod(grid), N_RENDER_CLASSES
    if ids is None:
        ids = coarse_ids(grid, s, fine_maps.device)
    offsets = torch.arange(m, device=ids.device)[:, None] * n_vox
    flat = ((ids[None] + offsets) * n_cls + fine_maps.reshape(m, -1)).reshape(-1)
    counts = torch.bincount(flat, minlength=m * n_vox * n_cls)
    return counts.view(m, *grid, n_cls).permute(0, 4, 1, 2, 3).float() / s**3


def _smooth_noise(rng: np.random.Generator, shape: tuple, device) -> torch.Tensor:
    """Unit-SD random field smooth at about 1/6 of the grid (trilinear upsampling of 6^3 noise)."""
    coarse = torch.from_numpy(rng.standard_normal((1, 1, 6, 6, 6)).astype(np.float32)).to(device)
    return F.interpolate(coarse, size=shape, mode="trilinear", align_corners=True)[0, 0]


def injury_cells(mask: torch.Tensor, cells: tuple) -> torch.Tensor:
    """Which feature-grid cells hold injury: max-pool of the network-grid mask.

    Parameters
    ----------
    mask : torch.Tensor, shape (N, 1, D, H, W), float
    cells : tuple of 3 int
        The Grad-CAM layer's grid (e.g. 4x4x4 for layer3 at 64^3).

    Returns
    -------
    torch.Tensor, shape (N, 1, *cells), float32 in {0, 1}
    """
    return (F.adaptive_max_pool3d(mask.float(), cells) > 0).float()


def _self_check() -> None:  # pragma: no cover - a quick manual look
    pair = anatomy_pair(3)
    r = PairRenderer(PreprocessConfig(target_shape=(64, 64, 64))).render(pair, 1)
    print(r.x.shape, r.y, r.injury_mm3, math.isfinite(float(r.x.sum())))
