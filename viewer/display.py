"""Display geometry and intensity defaults: pure functions, no Qt (testable without a display).

A plane view shows one slice of a RAS+ volume (``Volume.data``, axes X->Right, Y->Anterior,
Z->Superior). Each plane is described by a :class:`PlaneGeometry`: which voxel axis is normal to
the screen, which runs horizontally and which vertically. The *view* coordinates used by every
plane view are millimetres from the centre of voxel 0, ``u = h_index * spacing[h_axis]`` across
and ``v = v_index * spacing[v_axis]`` up, so voxels keep their true aspect ratio and the scan, the
heatmap and the crosshair share one coordinate system.

The display convention (radiological or neurological) is a property of the *view*: it decides
whether the horizontal voxel axis increases towards the screen's right or left
(:func:`h_increases_right`). Data are never flipped (FSLeyes ``radioOrientation``).

=========  ===========  ==========  ========  =============================================
plane      slice axis   horizontal  vertical  screen convention
=========  ===========  ==========  ========  =============================================
axial      Z (S)        X (R)       Y (A)     anterior at top; radiological: patient R left
coronal    Y (A)        X (R)       Z (S)     superior at top; radiological: patient R left
sagittal   X (R)        Y (A)       Z (S)     superior at top; anterior on the screen's left
=========  ===========  ==========  ========  =============================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.heatmap import HEAD_FRACTION, head_mask, heatmap_peak  # noqa: F401 - re-exported (moved to model.heatmap)

#: The three plane names, in the order the ortho view shows them.
PLANES = ("axial", "coronal", "sagittal")

#: Letter of the positive / negative direction of each RAS+ voxel axis.
POSITIVE_LETTERS = ("R", "A", "S")
NEGATIVE_LETTERS = ("L", "P", "I")

#: Index letters of the RAS+ voxel axes (for readouts: i along X, j along Y, k along Z).
INDEX_NAMES = ("i", "j", "k")


@dataclass(frozen=True)
class PlaneGeometry:
    """Which voxel axes a plane view shows, and where.

    Attributes
    ----------
    name : str
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    slice_axis : int
        RAS+ voxel axis normal to the screen (the one the slice index runs along).
    h_axis : int
        Voxel axis shown horizontally.
    v_axis : int
        Voxel axis shown vertically, increasing towards the top of the screen.
    h_always_reversed : bool
        True when the horizontal axis increases towards the screen's left whatever the
        convention (sagittal: anterior on the left).
    """

    name: str
    slice_axis: int
    h_axis: int
    v_axis: int
    h_always_reversed: bool = False


GEOMETRY = {
    "axial": PlaneGeometry("axial", slice_axis=2, h_axis=0, v_axis=1),
    "coronal": PlaneGeometry("coronal", slice_axis=1, h_axis=0, v_axis=2),
    "sagittal": PlaneGeometry("sagittal", slice_axis=0, h_axis=1, v_axis=2, h_always_reversed=True),
}


def h_increases_right(geom: PlaneGeometry, radiological: bool) -> bool:
    """True when the horizontal voxel index increases towards the screen's right.

    Radiological convention puts the patient's left on the screen's right, i.e. RAS X (towards
    patient Right) increases towards the screen's *left*; neurological is the mirror image. The
    sagittal plane has no left-right axis on screen and always shows anterior on the left.
    """
    if geom.h_always_reversed:
        return False
    return not radiological


def edge_letters(geom: PlaneGeometry, radiological: bool) -> dict:
    """Orientation letters at the four edges of a plane view.

    Returns
    -------
    dict
        ``{"left", "right", "top", "bottom"}`` -> one of R/L/A/P/S/I: the patient direction that
        lies towards that edge of the screen.
    """
    h, v = geom.h_axis, geom.v_axis
    if h_increases_right(geom, radiological):
        left, right = NEGATIVE_LETTERS[h], POSITIVE_LETTERS[h]
    else:
        left, right = POSITIVE_LETTERS[h], NEGATIVE_LETTERS[h]
    return {"left": left, "right": right, "top": POSITIVE_LETTERS[v], "bottom": NEGATIVE_LETTERS[v]}


def plane_slice(array: np.ndarray, geom: PlaneGeometry, index: int) -> np.ndarray:
    """One slice of a RAS+ array as a row-major display image (a view, never a copy).

    Parameters
    ----------
    array : np.ndarray, shape (X, Y, Z)
    geom : PlaneGeometry
    index : int
        Slice index along ``geom.slice_axis``.

    Returns
    -------
    np.ndarray, shape (n_v, n_h)
        Rows run along ``geom.v_axis`` (row 0 = lowest index, drawn at the bottom of a view
        whose y axis points up), columns along ``geom.h_axis``.
    """
    taken = _take_view(array, geom.slice_axis, index)
    # ``taken`` keeps the two remaining axes in ascending order; put v first (rows).
    remaining = [a for a in range(3) if a != geom.slice_axis]
    order = (remaining.index(geom.v_axis), remaining.index(geom.h_axis))
    return taken.transpose(order)


def _take_view(array: np.ndarray, axis: int, index: int) -> np.ndarray:
    key = [slice(None)] * 3
    key[axis] = int(index)
    return array[tuple(key)]


def plane_shape(shape: tuple, geom: PlaneGeometry) -> tuple:
    """(n_v, n_h): shape of :func:`plane_slice` for a volume of ``shape`` (X, Y, Z)."""
    return int(shape[geom.v_axis]), int(shape[geom.h_axis])


def image_rect_mm(shape: tuple, spacing_mm, geom: PlaneGeometry) -> tuple:
    """Rectangle (x, y, width, height) in view mm occupied by a slice image.

    Voxel centres sit at integer multiples of the spacing, so voxel ``n`` spans
    ``[(n - 0.5) * s, (n + 0.5) * s)``; a 1 x 1 x 3 mm voxel is drawn three times taller than wide.
    """
    sh, sv = float(spacing_mm[geom.h_axis]), float(spacing_mm[geom.v_axis])
    nv, nh = plane_shape(shape, geom)
    return (-0.5 * sh, -0.5 * sv, nh * sh, nv * sv)


def view_to_voxel(u_mm: float, v_mm: float, geom: PlaneGeometry, shape: tuple, spacing_mm) -> tuple:
    """Nearest in-volume (h_index, v_index) of a point in view mm (clamped to the volume)."""
    sh, sv = float(spacing_mm[geom.h_axis]), float(spacing_mm[geom.v_axis])
    h = int(np.clip(np.rint(u_mm / sh), 0, shape[geom.h_axis] - 1))
    v = int(np.clip(np.rint(v_mm / sv), 0, shape[geom.v_axis] - 1))
    return h, v


def voxel_to_view(index_ijk, geom: PlaneGeometry, spacing_mm) -> tuple:
    """(u, v) in view mm of the centre of voxel ``index_ijk`` in this plane."""
    return (
        float(index_ijk[geom.h_axis]) * float(spacing_mm[geom.h_axis]),
        float(index_ijk[geom.v_axis]) * float(spacing_mm[geom.v_axis]),
    )


def default_window(data: np.ndarray, percentiles=(1.0, 99.0)) -> tuple:
    """Automatic window: the 1st-99th percentile of the non-zero voxels.

    Parameters
    ----------
    data : np.ndarray
        Intensities (any shape).
    percentiles : (float, float)

    Returns
    -------
    (level, width) : (float, float)
        Centre and width of the displayed intensity range; width > 0.
    """
    values = data[data != 0]
    if values.size == 0:
        values = data.ravel()
    lo, hi = (float(x) for x in np.percentile(values, percentiles))
    if not hi > lo:
        lo, hi = float(data.min()), float(data.max())
    if not hi > lo:
        hi = lo + 1.0
    return 0.5 * (lo + hi), hi - lo


def window_levels(level: float, width: float) -> tuple:
    """(low, high) display levels of a window given by centre ``level`` and ``width``."""
    return level - 0.5 * width, level + 0.5 * width


@dataclass(frozen=True)
class Scan:
    """A volume ready for display: the data, a name for the title bar, and its display facts.

    Attributes
    ----------
    volume : model.volume.Volume
    name : str
        What the title bar and reports call it (the file name, or "Simulated sample ...").
    default_window : (float, float)
        (level, width) from :func:`default_window`, computed off the GUI thread.
    presets : dict
        (level, width) of each :data:`WINDOW_PRESETS` key (:func:`window_presets`); may be empty.
    head_mask : np.ndarray of bool or None, shape (X, Y, Z)
        :func:`head_mask`; None shows the heatmap everywhere.
    quality : tuple of str
        :func:`model.quality.quality_warnings` of the volume.
    """

    volume: object
    name: str
    default_window: tuple
    presets: dict = field(default_factory=dict)
    head_mask: np.ndarray | None = field(default=None, repr=False, compare=False)
    quality: tuple = ()


def make_scan(volume, name: str) -> Scan:
    """Everything the display needs about ``volume``, computed once (call it off the GUI thread)."""
    from model.quality import quality_warnings

    mask = head_mask(volume.data)
    presets = window_presets(volume.data, mask)
    return Scan(
        volume=volume,
        name=name,
        default_window=presets["auto"],
        presets=presets,
        head_mask=mask,
        quality=tuple(quality_warnings(volume)),
    )


# -- window presets ---------------------------------------------------------------------------
#: Window presets: key -> menu text. ``auto`` is the default window of every scan.
WINDOW_PRESETS = {
    "auto": "Automatic (1st–99th percentile)",
    "full": "Full range",
    "neonatal_t2": "Neonatal T2 brain",
}
#: Percentiles of the voxels inside the head that bound the neonatal T2 brain window.
NEONATAL_T2_PERCENTILES = (5.0, 90.0)
WINDOW_PRESET_TIPS = {
    "auto": "1st to 99th percentile of the non-zero voxels (the default window)",
    "full": "Lowest to highest intensity in the scan",
    "neonatal_t2": (
        "T2 intensities have no fixed units, so this preset is relative to this scan: from the "
        f"{NEONATAL_T2_PERCENTILES[0]:g}th to the {NEONATAL_T2_PERCENTILES[1]:g}th percentile of the voxels inside "
        "the head. Grey and white matter fill the grey scale; CSF, the brightest tissue on T2, saturates to white."
    ),
}


def window_from_range(low: float, high: float) -> tuple:
    """(level, width) of the intensity range ``[low, high]`` (width at least 1e-6)."""
    return 0.5 * (low + high), max(high - low, 1e-6)


def window_presets(data: np.ndarray, mask: np.ndarray | None = None) -> dict:
    """The (level, width) of every preset in :data:`WINDOW_PRESETS` for one scan.

    Parameters
    ----------
    data : np.ndarray, shape (X, Y, Z)
    mask : np.ndarray of bool, optional
        Voxels inside the head (:func:`head_mask`); the neonatal preset uses its percentiles.

    Returns
    -------
    dict
        ``{"auto": (level, width), "full": ..., "neonatal_t2": ...}``.
    """
    inside = data[mask] if mask is not None and mask.any() else data[data != 0]
    if inside.size == 0:
        inside = data.ravel()
    lo, hi = (float(v) for v in np.percentile(inside, NEONATAL_T2_PERCENTILES))
    if not hi > lo:
        lo, hi = float(inside.min()), float(inside.max())
    return {
        "auto": default_window(data),
        "full": window_from_range(float(data.min()), float(data.max())),
        "neonatal_t2": window_from_range(lo, hi),
    }


# -- head mask and heatmap peak -------------------------------------------------------------------


#: Layouts of the plane views: key -> menu text.
LAYOUTS = {"1x3": "Three planes side by side", "2x2": "2 × 2 with cursor and result", "1x1": "One plane maximised"}


# -- cursor readout -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Readout:
    """What the cursor points at.

    Attributes
    ----------
    index_ijk : tuple of int
        Voxel on the RAS+ grid.
    world_mm : tuple of float
        World position (mm, RAS+) of the voxel centre.
    intensity : float
    heatmap : float or None
        Grad-CAM value at the voxel (None without a shown result).
    inside_head : bool
        Whether the voxel is inside the display mask (the heatmap is hidden outside).
    """

    index_ijk: tuple
    world_mm: tuple
    intensity: float
    heatmap: float | None
    inside_head: bool

    def location_text(self, scan_name: str = "") -> str:
        """One line for the clipboard, e.g. ``scan.nii.gz voxel (i, j, k) = (58, 79, 63); RAS (x, y, z) = ...``."""
        i, j, k = self.index_ijk
        x, y, z = self.world_mm
        text = f"voxel (i, j, k) = ({i}, {j}, {k}); RAS (x, y, z) = ({x:.1f}, {y:.1f}, {z:.1f}) mm; intensity {self.intensity:.4g}"
        if self.heatmap is not None:
            text += f"; heatmap {self.heatmap:.3f}"
        return f"{scan_name}: {text}" if scan_name else text


def cursor_readout(volume, index_ijk, heatmap: np.ndarray | None = None, mask: np.ndarray | None = None) -> Readout:
    """:class:`Readout` of voxel ``index_ijk`` of ``volume`` (``heatmap`` on the same grid, optional)."""
    ijk = tuple(int(v) for v in index_ijk)
    world = tuple(float(v) + 0.0 for v in volume.world_mm(ijk))  # + 0.0: no "-0.0"
    return Readout(
        index_ijk=ijk,
        world_mm=world,
        intensity=float(volume.data[ijk]),
        heatmap=None if heatmap is None else float(heatmap[ijk]),
        inside_head=True if mask is None else bool(mask[ijk]),
    )
