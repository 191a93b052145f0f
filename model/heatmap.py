"""The heatmap, in one place: its colour table, the head mask, the maximum inside the head, its words.

The viewer's overlay and colour bar, the PDF report (:mod:`model.record.report`), the exported
NIfTI and training's Grad-CAM pointing game all use these functions, so the screen, the paper and
the metric agree on what is shown and where the maximum is.

* :func:`heatmap_lut` is THE colouring: a perceptually uniform matplotlib colormap spread over
  ``[threshold, 1]``, fully transparent below the threshold, with a short alpha ramp above it so
  the map fades in instead of starting with a hard dark edge.
* :func:`head_mask` is the region where the heatmap means anything: above the scan's background,
  enclosed holes filled (scipy). Outside it Grad-CAM is haze (and, upsampled from a coarse
  feature grid, plateaus that reach the corners of the field of view).
* :func:`heatmap_peak` is "the maximum inside the head" (go-to-maximum, the report's slices, the
  pointing game).

Plain numpy/scipy/matplotlib; nothing here imports Qt.
"""

from __future__ import annotations

import numpy as np

#: Colormaps offered for the heatmap (perceptually uniform, readable in greyscale print).
HEATMAP_COLORMAPS = ("inferno", "magma", "plasma", "viridis", "cividis")
#: Fraction of the range above the threshold over which the heatmap fades in (alpha 0 -> 1).
HEATMAP_FADE = 0.25
#: Default threshold: Grad-CAM values below it are transparent.
DEFAULT_HEATMAP_THRESHOLD = 0.15

HEATMAP_CAPTION = "Heatmap: where the model looked (Grad-CAM), not a lesion outline"
#: The NIfTI ``descrip`` of an exported heatmap (80 characters at most).
HEATMAP_DESCRIPTION = "GloResNet Grad-CAM heatmap 0-1, NOT masked to the head; not a lesion map"


def heatmap_lut(colormap: str = "inferno", threshold: float = DEFAULT_HEATMAP_THRESHOLD, n: int = 256) -> np.ndarray:
    """RGBA lookup table for heatmap values 0..1: transparent below ``threshold``, colormap above.

    Entry ``i`` colours the value ``i / (n - 1)``. Values at or above the threshold take the
    colormap at ``(value - threshold) / (1 - threshold)``; alpha rises linearly from 0 at the
    threshold to 255 at ``threshold + HEATMAP_FADE * (1 - threshold)``.

    Parameters
    ----------
    colormap : str
        A matplotlib colormap name (:data:`HEATMAP_COLORMAPS`).
    threshold : float
        In [0, 1).
    n : int

    Returns
    -------
    np.ndarray, shape (n, 4), uint8

    Raises
    ------
    ValueError
        Unknown colormap or threshold outside [0, 1).
    """
    from matplotlib import colormaps

    if colormap not in colormaps:
        raise ValueError(f"unknown colormap {colormap!r}; use one of {HEATMAP_COLORMAPS}")
    threshold = float(threshold)
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    x = np.linspace(0.0, 1.0, n)
    span = 1.0 - threshold
    t = np.clip((x - threshold) / span, 0.0, 1.0)
    rgba = colormaps[colormap](t)
    alpha = np.clip(t / HEATMAP_FADE, 0.0, 1.0)
    alpha[x < threshold] = 0.0
    rgba[:, 3] = alpha
    return np.round(rgba * 255).astype(np.uint8)


def heatmap_rgba(values: np.ndarray, lut: np.ndarray, opacity: float = 1.0) -> np.ndarray:
    """Colour heatmap values (0..1, any shape) with a :func:`heatmap_lut`; float RGBA in [0, 1]."""
    n = lut.shape[0]
    index = np.clip(np.rint(np.asarray(values, dtype=float) * (n - 1)), 0, n - 1).astype(np.intp)
    out = lut[index].astype(float) / 255.0
    out[..., 3] *= float(opacity)
    return out


#: A voxel is inside the head when it is brighter than the background by this fraction of the
#: robust (99th percentile) intensity range; the background is the scan's lowest value.
HEAD_FRACTION = 0.02


def head_mask(data: np.ndarray) -> np.ndarray:
    """Voxels inside the head: above the background value, holes filled (display only).

    The background of a brain-extracted or skull-on T2 is its lowest value (plus noise); a voxel is
    inside when it exceeds ``min + HEAD_FRACTION * (p99 - min)``. Enclosed dark regions are filled
    (:func:`scipy.ndimage.binary_fill_holes`), so dark tissue inside the head keeps its heatmap.
    Used to hide the Grad-CAM haze outside the head on screen; exported heatmaps stay unmasked.

    Parameters
    ----------
    data : np.ndarray, shape (X, Y, Z)

    Returns
    -------
    np.ndarray of bool, shape (X, Y, Z)
    """
    from scipy.ndimage import binary_fill_holes

    background = float(data.min())
    robust_top = float(np.percentile(data, 99.0))
    threshold = background + HEAD_FRACTION * max(robust_top - background, 0.0)
    mask = data > threshold
    if not mask.any():
        return np.ones(data.shape, bool)
    return binary_fill_holes(mask)


def heatmap_peak(heatmap: np.ndarray, mask: np.ndarray | None = None) -> tuple:
    """Voxel (i, j, k) of the heatmap maximum, inside ``mask`` when one is given (and not empty).

    Parameters
    ----------
    heatmap : np.ndarray, shape (X, Y, Z), float
    mask : np.ndarray of bool, shape (X, Y, Z), optional
        Usually :func:`head_mask` of the scan. Ties go to the first voxel in C order (``np.argmax``).

    Returns
    -------
    tuple of int
        ``(i, j, k)``.
    """
    if mask is not None and mask.any():
        masked = np.where(mask, heatmap, -np.inf)
        flat = int(np.argmax(masked))
    else:
        flat = int(np.argmax(heatmap))
    return tuple(int(v) for v in np.unravel_index(flat, heatmap.shape))
