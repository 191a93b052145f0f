"""THE preprocessing ("global manifold mapping", paper Eq. 3-4), shared by training and inference.

There is exactly one implementation. Its settings live in a frozen :class:`PreprocessConfig` that
training writes into the model card and inference reads back from the card, so the app cannot
preprocess differently from how the weights were trained.

Steps (METHOD.md "Pipeline" 2):

1. Trilinear resampling of the whole RAS+ volume to ``target_shape`` (128^3) with
   ``align_corners=True`` — aspect ratio is deliberately not preserved (Eq. 3). This equals
   ``scipy.ndimage.zoom(order=1)`` of the authors' code to ~4e-5.
2. Subject-wise z-score over all voxels, background included: ``(x - mean) / (std + eps)`` (Eq. 4).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F


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
    """

    target_shape: tuple = (128, 128, 128)
    interpolation: str = "trilinear"
    align_corners: bool = True
    normalization: str = "zscore"
    eps: float = 1e-8
    orientation: str = "RAS"

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

    def to_dict(self) -> dict:
        """JSON-ready dict (lists instead of tuples)."""
        d = asdict(self)
        d["target_shape"] = list(self.target_shape)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "PreprocessConfig":
        """Inverse of :meth:`to_dict`; unknown or missing keys raise ``ValueError``."""
        expected = set(cls.__dataclass_fields__)
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


def preprocess(data: np.ndarray, cfg: PreprocessConfig) -> torch.Tensor:
    """Network input for one RAS+ volume (METHOD.md pipeline step 2; paper Eq. 3-4).

    Parameters
    ----------
    data : np.ndarray, shape (X, Y, Z), float
        ``Volume.data`` (closest canonical RAS+).
    cfg : PreprocessConfig
        Normally ``card.preprocessing`` of the loaded weights.

    Returns
    -------
    torch.Tensor, float32, shape (1, 1) + cfg.target_shape, on the CPU
    """
    if np.ndim(data) != 3:
        raise ValueError(f"preprocess expects a 3D array, got shape {np.shape(data)}")
    t = resample(data, cfg.target_shape, align_corners=cfg.align_corners)
    return zscore(t, cfg.eps)[None, None].contiguous()


def resample_to_grid(array: torch.Tensor | np.ndarray, shape: tuple, cfg: PreprocessConfig) -> np.ndarray:
    """Map an array on the network grid back onto a volume's grid (inverse of step 1).

    Because step 1 is a trilinear resampling with ``align_corners=True`` of the whole field of
    view, resampling a network-grid map with the same setting to the volume's ``shape`` puts every
    value back at the same world position (used for Grad-CAM).

    Returns
    -------
    np.ndarray, float32, shape ``shape``
    """
    return resample(array, shape, align_corners=cfg.align_corners).numpy().astype(np.float32)
