"""Linear ventricular measures, automated on the label map.

Part of :mod:`model.measure` (the package docstring says what each part holds).

The cranial-ultrasound measures clinicians use, defined by Levene (Arch Dis Child 1981;56:900-904,
ventricular index) and Davies et al. (Arch Dis Child Fetal Neonatal Ed 2000;82:F218-F223) as used
for the reference values of Brouwer et al. (Radiology 2012;262:224-233): anterior horn width,
thalamo-occipital distance. Automated here, per hemisphere, on the map brought to the closest RAS+
voxel axes (axis flips/permutations only, :func:`nibabel.orientations.io_orientation`; distances are
along the scan's axes, so a head pitched by an angle t lengthens them by up to 1/cos t):

* midline: the left-right centroid of the intracranial mask (the falx);
* lateral ventricle of a side: the largest 26-connected component of the ventricle label lying more
  than 1.5 mm to that side of the midline (this removes the third and fourth ventricles, which are
  midline structures, and the aqueduct);
* plane of the foramina of Monro: the most anterior coronal slice in which ventricle voxels lie
  within 1.5 mm of the midline inside the craniocaudal extent of the deep grey matter, i.e. the
  anterior end of the third ventricle between the thalami;
* ``ventricular_index_{left,right}_mm`` (Levene 1981): in that coronal slice, the distance from the
  midline to the outer face of the most lateral voxel of that side's lateral ventricle;
* ``anterior_horn_width_{left,right}_mm`` (Davies 2000, Brouwer 2012: the diagonal width of the
  anterior horn at its widest point, same plane): the diameter of the largest disc inscribed in that
  side's ventricle cross-section in the slice, ``2 x max(EDT) - min in-plane voxel size``
  (:func:`scipy.ndimage.distance_transform_edt` with the voxel sizes), exact to one voxel;
* ``thalamo_occipital_distance_{left,right}_mm`` (Davies 2000, Brouwer 2012: from the outermost
  point of the thalamus at the choroid plexus to the outermost tip of the occipital horn, in the
  parasagittal plane): the anterior-posterior distance from the posterior face of that side's deep
  grey matter (its largest 26-connected component, so a separate hippocampus does not count) to the
  posterior face of that side's lateral ventricle.

What is *not* automated, and why: the atrial width (the fetal measure at the glomus of the choroid
plexus) needs the choroid plexus, which the label map does not have. The plane of the foramina of
Monro is found from the third ventricle; where a segmentation merges the frontal horns across an
unresolved septum pellucidum the plane falls further forward (at the frontal horns), so the index
then reads the frontal horns. The measures are analogues on a label map, not ultrasound readings: they
are compared only with references measured the same way (the Serag-template means of
:mod:`model.norms`, which have no spread, or a site's own fit), never with the ultrasound tables of
Brouwer et al. A measure that cannot be found (no deep grey matter, no third ventricle, no ventricle
on a side) is left out, and the report's ``notes`` say why.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi

from model.measure.volumes import _26, _bbox, _centroid_voxel, _mask
from model.segmentation import DEEP_GREY, INTRACRANIAL_VALUES, VENTRICLES

#: Distance from the midline (mm) beyond which a ventricle voxel belongs to a side's lateral ventricle,
#: and within which a ventricle voxel is midline (third ventricle).
MIDLINE_MM = 1.5

LEVENE = "Levene, Arch Dis Child 1981;56:900-904"
DAVIES_BROUWER = (
    "Davies et al., Arch Dis Child Fetal Neonatal Ed 2000;82:F218-F223; Brouwer et al., Radiology 2012;262:224-233"
)
#: Linear measure key stem -> (name, definition).
LINEAR = {
    "ventricular_index": (
        "Ventricular index",
        f"coronal plane of the foramina of Monro: midline to the lateral wall of the lateral ventricle ({LEVENE}); "
        "automated on the label map (model.measure)",
    ),
    "anterior_horn_width": (
        "Anterior horn width",
        f"coronal plane of the foramina of Monro: width of the anterior horn at its widest point ({DAVIES_BROUWER}); "
        "automated as the largest inscribed disc of the horn's cross-section (model.measure)",
    ),
    "thalamo_occipital_distance": (
        "Thalamo-occipital distance",
        f"posterior edge of the thalamus to the tip of the occipital horn ({DAVIES_BROUWER}); "
        "automated along the anterior-posterior axis (model.measure)",
    ),
}


def _largest_component(mask: np.ndarray) -> np.ndarray | None:
    box = _bbox(mask)
    if box is None:
        return None
    comp, n = ndi.label(mask[box], structure=_26)
    if n > 1:
        sizes = np.bincount(comp.ravel())
        sizes[0] = 0
        part = comp == int(sizes.argmax())
    else:
        part = comp > 0
    out = np.zeros(mask.shape, bool)
    out[box] = part
    return out


def linear_measures(
    labels: np.ndarray, affine: np.ndarray, icv_centre: np.ndarray | None = None
) -> tuple[dict[str, float], list[str]]:
    """The automated ventricular index, anterior horn width and thalamo-occipital distance (mm).

    See the module docstring for the definitions and their sources.

    Parameters
    ----------
    labels : np.ndarray, shape (X, Y, Z), uint8
    affine : np.ndarray, shape (4, 4)
    icv_centre : np.ndarray, shape (3,), optional
        Centroid of the intracranial mask in voxel coordinates of ``labels`` (computed when absent).

    Returns
    -------
    (dict, list of str)
        ``{"ventricular_index_left_mm": ..., ...}`` for the measures found, and notes saying why
        any is missing.
    """
    if icv_centre is None:
        icv_centre = _centroid_voxel(_mask(labels, INTRACRANIAL_VALUES))
    ornt = nib.orientations.io_orientation(affine)
    lab = nib.orientations.apply_orientation(labels, ornt)  # axes ~ R, A, S (flips/permutations only)
    can = affine @ nib.orientations.inv_ornt_aff(ornt, labels.shape)
    sx, sy, sz = (float(v) for v in np.linalg.norm(can[:3, :3], axis=0))
    out: dict[str, float] = {}
    notes: list[str] = []
    box = _bbox(_mask(lab, (VENTRICLES, DEEP_GREY)))
    if icv_centre is None or box is None or not (lab[box] == VENTRICLES).any():
        return out, ["linear ventricular measures: no intracranial volume or no ventricles in the label map"]
    centre = (np.linalg.inv(can) @ affine @ np.append(icv_centre, 1.0))[:3]  # in the RAS-ordered voxel frame
    lab = lab[box]  # everything below works on the box around the ventricles and deep grey matter
    vent = lab == VENTRICLES
    deep = lab == DEEP_GREY
    # signed distance of each x column from the midline (+ = the patient's right)
    dx_mm = (np.arange(box[0].start, box[0].stop) - centre[0]) * sx
    sides = {"right": dx_mm > MIDLINE_MM, "left": dx_mm < -MIDLINE_MM}
    lateral, deep_side = {}, {}
    for side, columns in sides.items():
        col = columns[:, None, None]
        lateral[side] = _largest_component(vent & col)
        deep_side[side] = _largest_component(deep & col)
    # plane of the foramina of Monro: anterior end of the midline ventricle within the deep grey's z extent
    plane = None
    if deep.any():
        z_deep = np.flatnonzero(deep.any(axis=(0, 1)))
        midline = np.abs(dx_mm) <= MIDLINE_MM
        third = vent[midline][:, :, z_deep[0] : z_deep[-1] + 1]
        y_mid = np.flatnonzero(third.any(axis=(0, 2)))
        if len(y_mid):
            plane = int(y_mid[-1])
    if plane is None:
        notes.append(
            "ventricular index and anterior horn width not measured: no third ventricle found at the midline "
            "between the deep grey matter (the plane of the foramina of Monro)"
        )
    for side in ("left", "right"):
        lv = lateral[side]
        if lv is None:
            notes.append(f"linear ventricular measures, {side}: no lateral ventricle on that side")
            continue
        if plane is not None:
            section = lv[:, plane, :]
            xs = np.flatnonzero(section.any(axis=1))
            if len(xs):
                out[f"ventricular_index_{side}_mm"] = float(np.abs(dx_mm[xs]).max() + sx / 2)
                edt = ndi.distance_transform_edt(np.pad(section, 1), sampling=(sx, sz))
                out[f"anterior_horn_width_{side}_mm"] = float(max(2 * edt.max() - min(sx, sz), min(sx, sz)))
            else:
                notes.append(
                    f"ventricular index and anterior horn width, {side}: no lateral ventricle in the plane of Monro"
                )
        dg = deep_side[side]
        if dg is None:
            notes.append(f"thalamo-occipital distance, {side}: no deep grey matter on that side")
        else:
            y_thal = int(np.flatnonzero(dg.any(axis=(0, 2)))[0])
            y_occ = int(np.flatnonzero(lv.any(axis=(0, 2)))[0])
            out[f"thalamo_occipital_distance_{side}_mm"] = float(max(y_thal - y_occ, 0) * sy)
    return out, notes
