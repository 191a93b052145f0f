"""THE preprocessing ("global manifold mapping", paper Eq. 3-4), shared by training and inference.

There is exactly one implementation. Its settings live in a frozen :class:`PreprocessConfig` that
training writes into the model card and inference reads back from the card, so the app cannot
preprocess differently from how the weights were trained.

Steps (METHOD.md "Pipeline" 2):

1. Trilinear resampling of the whole RAS+ volume to ``target_shape`` (128^3) with
   ``align_corners=True`` — aspect ratio is deliberately not preserved (Eq. 3). This equals
   ``scipy.ndimage.zoom(order=1)`` of the authors' code to ~4e-5.
2. Subject-wise z-score over all voxels, background included: ``(x - mean) / (std + eps)`` (Eq. 4).

One deliberate, recorded option (``crop="head"``; the paper's ``"none"`` stays the default):
before step 1 the volume is cut to the box of its head object (the out-of-distribution rules'
head, :func:`head_object`: Otsu's threshold, largest component) plus ``crop_margin`` of the box
per side. A neonatal brain fills only 60-90 % of each axis of a typical field of view, so on a
64^3 grid the crop buys 1.1-1.6x resolution per axis; it also makes the fraction of background in
the z-score (Eq. 4) nearly constant. The card records the setting, the app follows the card, and
:func:`resample_to_grid` maps Grad-CAM back into the same box.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import scipy.ndimage as ndi
import torch
import torch.nn.functional as F

#: Crop options of :class:`PreprocessConfig` (``"none"`` is the paper's whole field of view).
CROPS = ("none", "head")
#: Settings added after cards were first written, with the value those older cards imply.
_ADDED_DEFAULTS = {"crop": "none", "crop_margin": 0.05}


@dataclass(frozen=True)
class PreprocessConfig:
    """Settings of :func:`preprocess`; serialised into the model card.

    Attributes
    ----------
    target_shape : tuple of int
        Network input grid (X, Y, Z), voxels.
    interpolation : str
        Only ``"trilinear"`` is implemented (Eq. 3).
    align_corners : bool
        Must be True for compatibility with ``scipy.ndimage.zoom(order=1)``.
    normalization : str
        Only ``"zscore"`` (Eq. 4) is implemented.
    eps : float
        Added to the standard deviation.
    orientation : str
        Voxel order the volume must be in before resampling; ``"RAS"`` (closest canonical).
    crop : str
        ``"none"`` (paper Eq. 3: the whole field of view) or ``"head"`` (the box of
        :func:`head_object` plus ``crop_margin``; see the module notes).
    crop_margin : float
        Fraction of the head box's size added on each side (clipped to the volume).
    """

    target_shape: tuple = (128, 128, 128)
    interpolation: str = "trilinear"
    align_corners: bool = True
    normalization: str = "zscore"
    eps: float = 1e-8
    orientation: str = "RAS"
    crop: str = "none"
    crop_margin: float = 0.05

    def __post_init__(self):
        object.__setattr__(self, "target_shape", tuple(int(n) for n in self.target_shape))
        if len(self.target_shape) != 3 or min(self.target_shape) < 8:
            raise ValueError(f"target_shape must be three sizes >= 8, got {self.target_shape}")
        if self.interpolation != "trilinear":
            raise ValueError(f"unsupported interpolation {self.interpolation!r} (only 'trilinear')")
        if self.normalization != "zscore":
            raise ValueError(f"unsupported normalization {self.normalization!r} (only 'zscore')")
        if self.orientation != "RAS":
            raise ValueError(f"unsupported orientation {self.orientation!r} (only 'RAS')")
        if self.crop not in CROPS:
            raise ValueError(f"unsupported crop {self.crop!r} (one of {', '.join(CROPS)})")
        object.__setattr__(self, "crop_margin", float(self.crop_margin))
        if not 0.0 <= self.crop_margin <= 0.5:
            raise ValueError(f"crop_margin must be within 0-0.5, got {self.crop_margin}")

    def to_dict(self) -> dict:
        """JSON-ready dict (lists instead of tuples)."""
        d = asdict(self)
        d["target_shape"] = list(self.target_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessConfig":
        """Inverse of :meth:`to_dict`; unknown or missing keys raise ``ValueError``.

        Cards written before the crop option existed lack ``crop`` and ``crop_margin``; they were
        trained on the whole field of view, so those two default to ``"none"`` and 0.05.
        """
        expected = set(cls.__dataclass_fields__)
        d = {**{k: v for k, v in _ADDED_DEFAULTS.items() if k not in d}, **d}
        got = set(d)
        if got != expected:
            raise ValueError(
                f"preprocessing settings do not match this software: missing {sorted(expected - got)}, "
                f"unknown {sorted(got - expected)}"
            )
        return cls(**d)


def resample(data: np.ndarray | torch.Tensor, shape: tuple, align_corners: bool = True) -> torch.Tensor:
    """Trilinear resampling of a 3D array to ``shape`` (torch ``F.interpolate``).

    Parameters
    ----------
    data : array or tensor, shape (X, Y, Z) or (N, C, X, Y, Z)
    shape : tuple of 3 int
    align_corners : bool
        True maps the corner voxel centres onto each other (as ``scipy.ndimage.zoom``).

    Returns
    -------
    torch.Tensor, float32, shape ``shape`` (or (N, C) + ``shape``)
    """
    t = torch.as_tensor(data, dtype=torch.float32)
    squeeze = t.ndim == 3
    if squeeze:
        t = t[None, None]
    out = F.interpolate(t, size=tuple(shape), mode="trilinear", align_corners=align_corners)
    return out[0, 0] if squeeze else out


def zscore(t: torch.Tensor, eps: float) -> torch.Tensor:
    """Subject-wise z-score over all voxels of each item, (x - mean) / (std + eps) (Eq. 4).

    ``t`` has shape (X, Y, Z) or (N, C, X, Y, Z); statistics are per item (population std).
    """
    if t.ndim == 3:
        return (t - t.mean()) / (t.std(unbiased=False) + eps)
    dims = tuple(range(1, t.ndim))
    mean = t.mean(dim=dims, keepdim=True)
    std = t.std(dim=dims, keepdim=True, unbiased=False)
    return (t - mean) / (std + eps)


def head_object(data: np.ndarray) -> np.ndarray:
    """The head: largest connected object above half Otsu's threshold, opened once, holes filled.

    Otsu's threshold is scikit-image's ``threshold_otsu``; components and hole filling are
    ``scipy.ndimage``. The out-of-distribution rules (:mod:`model.ood_gate`) measure this same object.

    Parameters
    ----------
    data : np.ndarray, shape (X, Y, Z), float

    Returns
    -------
    np.ndarray, bool, shape (X, Y, Z); all False for a constant volume
    """
    from skimage.filters import threshold_otsu

    data = np.asarray(data, dtype=np.float32)
    if float(data.max()) == float(data.min()):
        return np.zeros(data.shape, bool)
    fg = ndi.binary_opening(data > 0.5 * float(threshold_otsu(data)))
    lab, n = ndi.label(fg)
    if n == 0:
        return fg
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return ndi.binary_fill_holes(lab == int(sizes.argmax()))


def margin_box(mask: np.ndarray, margin: float | Sequence[tuple[float, float]]) -> tuple[slice, ...]:
    """Bounding box of ``mask`` widened by ``margin`` x its size on each side, clipped to the array.

    ``margin`` is one fraction or one (before, after) pair per axis. An empty mask gives the whole
    array. Returns three ``slice`` s (voxel indices).
    """
    shape = mask.shape
    if not mask.any():
        return tuple(slice(0, n) for n in shape)
    out = []
    for ax, n in enumerate(shape):
        other = tuple(i for i in range(mask.ndim) if i != ax)
        idx = np.flatnonzero(mask.any(axis=other))
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        m0, m1 = (float(margin), float(margin)) if isinstance(margin, (int, float)) else margin[ax]
        size = hi - lo
        out.append(slice(max(lo - int(round(m0 * size)), 0), min(hi + int(round(m1 * size)), n)))
    return tuple(out)


#: Stride of the grid the head box of ``crop="head"`` is found on (the head object at full
#: resolution cost 0.6 s per scan; its box needs no more than every second voxel).
CROP_STRIDE = 2


def crop_box(data: np.ndarray, cfg: PreprocessConfig) -> tuple[slice, ...]:
    """The part of a (X, Y, Z) volume that :func:`preprocess` resamples: voxel-index slices.

    The whole volume for ``cfg.crop == "none"`` (Eq. 3); for ``"head"``, the :func:`head_object`
    box found on every :data:`CROP_STRIDE`-th voxel, scaled back and widened by the stride, plus
    ``cfg.crop_margin`` per side; the whole volume when no head is found.
    """
    if cfg.crop == "none":
        return tuple(slice(0, n) for n in np.shape(data))
    shape = np.shape(data)
    s = CROP_STRIDE if min(shape) >= 16 * CROP_STRIDE else 1
    coarse = margin_box(head_object(np.asarray(data)[::s, ::s, ::s]), cfg.crop_margin)
    # the strided box scaled back, widened by the stride so no voxel of the head is cut off
    return tuple(slice(max(b.start * s - (s - 1), 0), min(b.stop * s + (s - 1), n)) for b, n in zip(coarse, shape))


def preprocess_with_box(data: np.ndarray, cfg: PreprocessConfig) -> tuple[torch.Tensor, tuple]:
    """:func:`preprocess`, also returning the :func:`crop_box` it used (for mapping maps back)."""
    if np.ndim(data) != 3:
        raise ValueError(f"preprocess expects a 3D array, got shape {np.shape(data)}")
    box = crop_box(data, cfg)
    t = resample(np.ascontiguousarray(data[box]), cfg.target_shape, align_corners=cfg.align_corners)
    return zscore(t, cfg.eps)[None, None].contiguous(), box


def preprocess(data: np.ndarray, cfg: PreprocessConfig) -> torch.Tensor:
    """Network input for one RAS+ volume (METHOD.md pipeline step 2; paper Eq. 3-4).

    Parameters
    ----------
    data : np.ndarray, shape (X, Y, Z), float
        ``Volume.data`` (closest canonical RAS+).
    cfg : PreprocessConfig
        Normally ``card.preprocessing`` of the loaded weights (its ``crop`` decides the box).

    Returns
    -------
    torch.Tensor, float32, shape (1, 1) + cfg.target_shape, on the CPU

    Raises
    ------
    ValueError
        ``data`` is not 3D.
    """
    return preprocess_with_box(data, cfg)[0]


def resample_to_grid(
    array: torch.Tensor | np.ndarray, shape: tuple, cfg: PreprocessConfig, box: tuple | None = None
) -> np.ndarray:
    """Map an array on the network grid back onto a volume's grid (inverse of step 1).

    Because step 1 is a trilinear resampling with ``align_corners=True`` of the box (the whole
    field of view, or the head box of ``crop="head"``), resampling a network-grid map with the same
    setting to the box's shape and placing it there puts every value back at the same world
    position (used for Grad-CAM). Outside the box the map is 0.

    Parameters
    ----------
    array : (D, H, W) map on ``cfg.target_shape``
    shape : tuple of 3 int
        The volume's shape.
    box : tuple of 3 slice, optional
        What :func:`preprocess_with_box` returned; the whole volume when omitted.

    Returns
    -------
    np.ndarray, float32, shape ``shape``
    """
    if box is None:
        box = tuple(slice(0, n) for n in shape)
    inner = tuple(b.stop - b.start for b in box)
    values = resample(array, inner, align_corners=cfg.align_corners).numpy().astype(np.float32)
    if inner == tuple(shape):
        return values
    out = np.zeros(shape, np.float32)
    out[box] = values
    return out
