"""Quality warnings for a loaded scan: things a reader should know before trusting a score.

Warnings never stop an analysis; they are listed in the worklist and next to a result. Each is a
short sentence. Thresholds are deliberately loose: they flag scans that do not look like the
skull-stripped, roughly isotropic neonatal T2 volumes the method was designed for (METHOD.md).
"""

from __future__ import annotations

import numpy as np

from model.volume import Volume

#: Voxel count above which a scan is called very large (a 0.5 mm dHCP T2 has about 17 million).
LARGE_VOXELS = 60_000_000
#: Largest/smallest voxel size ratio above which voxels are called strongly anisotropic.
ANISOTROPY = 3.0
#: Brain extent (mm) outside which the field of view is unusual for a neonatal head.
FOV_MM = (50.0, 260.0)
#: Start of the warning for a file without orientation (qform and sform codes 0).
ORIENTATION_UNKNOWN = "no orientation in the header (qform and sform codes 0)"


def quality_warnings(volume: Volume) -> list[str]:
    """Short warnings about a scan's geometry and intensities.

    Parameters
    ----------
    volume : Volume

    Returns
    -------
    list of str
        Empty when nothing looks unusual.
    """
    out = []
    h = volume.header
    if h is not None:
        if not h.orientation_known:
            out.append(
                f"{ORIENTATION_UNKNOWN}: directions are assumed ({''.join(h.axcodes)} from the voxel sizes "
                "alone) and left and right may be swapped"
            )
        if h.left_right_conflict:
            out.append(
                f"qform ({''.join(h.qform_axcodes or ())}) and sform ({''.join(h.sform_axcodes or ())}) disagree about "
                "left and right: laterality is uncertain; the sform was used"
            )
        if h.bad_voxel_sizes:
            stored = ", ".join(f"{v:g}" for v in h.stored_pixdim_mm or ())
            used = ", ".join(f"{v:g}" for v in h.zooms_mm)
            out.append(
                f"voxel size in the header ({stored}) mm has zero or negative values; {used} mm was used "
                "instead, so distances and the field of view may be wrong"
            )
        if h.oblique:
            out.append(
                f"oblique acquisition ({np.degrees(h.obliquity_rad):.1f}°); shown in the closest canonical orientation"
            )
        if h.qform_sform_differ:
            out.append("qform and sform disagree; the sform was used")
        if len(h.shape) > 3:
            out.append("4D file with a single volume")
    if volume.extra.get("nan_background_voxels"):
        out.append(
            f"{volume.extra['nan_background_voxels']} background voxels outside the head were NaN; "
            "treated as background"
        )
    spacing = volume.spacing_mm
    if spacing.max() / spacing.min() > ANISOTROPY:
        out.append(f"strongly anisotropic voxels {np.round(spacing, 2).tolist()} mm")
    n = int(np.prod(volume.shape))
    if n > LARGE_VOXELS:
        out.append(
            f"very large volume ({'x'.join(map(str, volume.shape))}); resampling to the network grid discards detail"
        )
    extent = np.asarray(volume.shape) * spacing
    if extent.min() < FOV_MM[0] or extent.max() > FOV_MM[1]:
        out.append(f"unusual field of view {np.round(extent).astype(int).tolist()} mm for a neonatal head")
    data = volume.data
    if float(data.min()) < 0:
        out.append("negative intensities; expected a magnitude T2 image")
    background = float(np.mean(data == data.min()))
    if background < 0.05:
        out.append("little or no background; the method expects a skull-stripped (brain-extracted) scan")
    return out
