"""Grad-CAM pointing game (Zhang et al. 2018, "Top-down neural attention by excitation backprop"):
a heatmap "points" at an injury when its maximum inside the head lies in the (dilated) injury mask.

Inside the head only: outside it the map is meaningless, and on a coarse feature grid the
upsampled map has plateaus whose first voxel (``np.argmax``) is a corner of the field of view.
The head is :func:`model.ood_gate.head_mask` (so background noise does not count as head). The mask is
dilated by ``tolerance_mm`` (default 3 mm) because the map comes from a coarse feature grid.
``mask_fraction`` (dilated mask within the head / head) is the hit rate of a random point in the
head, the chance level to compare with.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from model.ood_gate import head_mask
from model.volume import Volume

TOLERANCE_MM = 3.0


def peak_in_head(heatmap: np.ndarray, head: np.ndarray) -> tuple:
    """Voxel index (i, j, k) of the heatmap maximum within ``head`` (both (X, Y, Z))."""
    return np.unravel_index(int(np.argmax(np.where(head, heatmap, -np.inf))), heatmap.shape)


def pointing_hit(heatmap: np.ndarray, volume: Volume, mask: np.ndarray, tolerance_mm: float = TOLERANCE_MM) -> dict:
    """Does the heatmap's maximum inside the head fall in the dilated injury mask?

    Parameters
    ----------
    heatmap : np.ndarray, shape (X, Y, Z), float
        On ``volume``'s RAS+ grid (``AnalysisResult.heatmap``).
    volume : Volume
    mask : np.ndarray, shape (X, Y, Z), bool
        Injury mask on the same grid.
    tolerance_mm : float
        Dilation of the mask (Euclidean distance, mm).

    Returns
    -------
    dict
        ``{"hit": bool, "mask_fraction": float, "peak_ijk": [i, j, k]}``; ``hit`` is None when the
        head or the mask is empty.

    Raises
    ------
    ValueError
        Shapes differ.
    """
    if heatmap.shape != volume.shape or mask.shape != volume.shape:
        raise ValueError(f"heatmap {heatmap.shape}, mask {mask.shape} and volume {volume.shape} must share one grid")
    head = head_mask(volume)
    if not head.any() or not mask.any():
        return {"hit": None, "mask_fraction": None, "peak_ijk": None}
    near = ndi.distance_transform_edt(~mask, sampling=volume.spacing_mm) <= tolerance_mm
    peak = peak_in_head(heatmap, head)
    return {"hit": bool(near[peak]), "mask_fraction": float(near[head].mean()), "peak_ijk": [int(v) for v in peak]}
