"""Label maps read from a file: a site's own dHCP / Draw-EM pipeline output on the scan's grid (issue 29).

File > Open segmentation… (and any script) reads a tissue label map with :func:`load_label_map`:

* reoriented to closest canonical RAS+ exactly as :mod:`model.volume` reorients scans (nibabel
  ``io_orientation`` + ``apply_orientation``: a permutation and flips of voxel axes, nothing
  interpolated), so it lies on the open volume's grid when it was written on the scan's grid;
* checked against the volume: same shape, and the same world position of every corner of the grid
  (within :data:`GRID_TOLERANCE_VOXELS` of a voxel); otherwise :class:`LabelMapError` naming the file
  and what differs;
* brought to the label values of :data:`model.segmentation.SEG_CLASSES` (:func:`to_our_labels`):
  our own maps (values 0-7, 10, 11) are kept; the dHCP Draw-EM tissue convention (8 brainstem,
  9 hippocampi and amygdalae) is merged as the decoder merges it (8 -> 6, 9 -> 7); the Serag
  templates' 9-class maps (8 and 9 are high- and low-intensity white matter) go through
  :func:`model.segmentation.from_serag`. Which was done is said in :attr:`LabelMap.note`.

Values 8 and 9 mean different things in the two 9-class conventions. With injury labels (10, 11)
present the map is in the issue's Draw-EM convention; without them :func:`detect_convention` looks
at what label 8 touches: mostly white matter (3) in a Serag map (95 % in the 40-week template), the
cerebellum (6) more than white matter in a Draw-EM map (the brainstem). The viewer asks the reader when it cannot tell, and a caller may always say.

:func:`segmentation_report` is the one place the viewer turns a label map into a
:class:`model.findings_types.SegmentationReport` (through :func:`model.measure.report_from_labels`),
whether the map came from the network or from a file, so both give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.affines import apply_affine
from nibabel.orientations import apply_orientation, inv_ornt_aff, io_orientation

from model.errors import GloResNetError
from model.segmentation import CHANNEL_VALUES, from_serag

#: Conventions a label-map file may use (values of :attr:`LabelMap.convention`).
OURS = "ours"
DRAWEM = "drawem"
SERAG = "serag"
CONVENTIONS = {
    OURS: "our label table (Draw-EM values, 6 = cerebellum + brainstem, 7 = deep grey, 10 cyst, 11 punctate lesion)",
    DRAWEM: "dHCP Draw-EM tissue labels (8 brainstem merged into 6, 9 hippocampi and amygdalae merged into 7)",
    SERAG: "Serag template labels (8 and 9, high- and low-intensity white matter, merged into 3)",
}
#: Draw-EM (dHCP) tissue value -> our label value.
DRAWEM_TO_LABEL = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 6, 9: 7, 10: 10, 11: 11}
#: A label map's grid matches the volume's when every grid corner lies this close (in voxels of
#: the volume, smallest side), e.g. float rounding of an affine written by another program.
GRID_TOLERANCE_VOXELS = 0.1


class LabelMapError(GloResNetError):
    """A label-map file cannot be shown on the open scan (the file and the reason, one line)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path.name}: {reason}")


@dataclass
class LabelMap:
    """A label map on the open volume's RAS+ grid.

    Attributes
    ----------
    labels : np.ndarray, shape (X, Y, Z), uint8
        Label values of :data:`model.segmentation.SEG_CLASSES`.
    path : Path
    convention : str
        :data:`OURS`, :data:`DRAWEM` or :data:`SERAG`: how the file's values were read.
    note : str
        What was done, for the reader ("Read as ...; reoriented from LPS").
    """

    labels: np.ndarray
    path: Path
    convention: str
    note: str


def read_label_file(path: str | Path) -> tuple[np.ndarray, np.ndarray, tuple]:
    """The integer label array of a NIfTI file, reoriented to RAS+.

    Returns
    -------
    labels : np.ndarray, shape (X, Y, Z), int64 (RAS+)
    affine : np.ndarray, shape (4, 4) (RAS+ voxel -> world mm)
    axcodes : tuple of str
        The file's own orientation (e.g. ``('L', 'A', 'S')``).

    Raises
    ------
    LabelMapError
        Missing, not NIfTI, not 3D, or values that are not whole non-negative numbers.
    """
    path = Path(path)
    if not path.is_file():
        raise LabelMapError(path, "file not found")
    try:
        img = nib.load(str(path))
        shape = tuple(int(n) for n in img.shape)
        if len(shape) > 3 and int(np.prod(shape[3:])) == 1:
            shape = shape[:3]
        if len(shape) != 3:
            raise LabelMapError(path, f"a label map is one 3D volume; this file has shape {tuple(img.shape)}")
        data = np.asarray(img.dataobj).reshape(shape)
    except LabelMapError:
        raise
    except Exception as exc:  # noqa: BLE001 - nibabel raises many kinds for a bad file
        raise LabelMapError(path, f"cannot be read as NIfTI ({str(exc).splitlines()[0][:160]})") from exc
    if not np.all(np.isfinite(data)):
        raise LabelMapError(path, "holds NaN or infinite values: not a label map")
    rounded = np.rint(data)
    if np.any(np.abs(data - rounded) > 1e-3) or rounded.min() < 0:
        raise LabelMapError(path, "holds fractional or negative values: not a label map (expected whole labels 0-11)")
    ornt = io_orientation(img.affine)
    ras = apply_orientation(rounded.astype(np.int64), ornt)
    affine = img.affine @ inv_ornt_aff(ornt, shape)
    return np.ascontiguousarray(ras), affine, tuple(nib.aff2axcodes(img.affine))


def grid_mismatch(shape, affine, volume) -> str:
    """Why a label map of ``shape`` / ``affine`` (RAS+) is not on ``volume``'s grid ('' when it is)."""
    if tuple(shape) != tuple(volume.shape):
        return (
            f"its grid is {'x'.join(map(str, shape))} voxels, the open scan's is "
            f"{'x'.join(map(str, volume.shape))}: a label map must be on the scan's own voxel grid"
        )
    corners = np.array([[i, j, k] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1) for k in (0, shape[2] - 1)])
    distance = float(np.max(np.linalg.norm(apply_affine(affine, corners) - volume.world_mm(corners), axis=1)))
    tolerance = GRID_TOLERANCE_VOXELS * float(np.min(volume.spacing_mm))
    if distance > tolerance:
        return (
            f"its grid lies up to {distance:.2f} mm away from the open scan's (same voxel count, different "
            "position, voxel size or orientation): a label map must be on the scan's own voxel grid"
        )
    return ""


def detect_convention(values: np.ndarray) -> str | None:
    """How to read a label array's values: :data:`OURS`, :data:`DRAWEM`, :data:`SERAG`, or None (cannot tell).

    Parameters
    ----------
    values : np.ndarray of int, shape (X, Y, Z)
    """
    present = set(np.unique(values).tolist())
    if not present & {8, 9}:
        return OURS
    if present & {10, 11}:
        return DRAWEM
    eight = values == 8
    if not eight.any():
        return None  # only 9: hippocampi (Draw-EM) or low-intensity WM (Serag) cannot be told apart
    from scipy import ndimage

    rim = ndimage.binary_dilation(eight, structure=np.ones((3, 3, 3), bool)) & ~eight
    touching = values[rim & (values != 9)]
    wm, cerebellum = int(np.count_nonzero(touching == 3)), int(np.count_nonzero(touching == 6))
    if touching.size and wm > 0.6 * touching.size:
        return SERAG  # 8 lies inside the white matter: high-intensity white matter (95 % in template-40)
    if cerebellum > wm:
        return DRAWEM  # 8 lies against the cerebellum more than the white matter: the brainstem
    return None


def to_our_labels(values: np.ndarray, convention: str) -> np.ndarray:
    """Label values of a file in ``convention`` -> our label values (uint8, same shape).

    Raises
    ------
    ValueError
        A value the convention does not have.
    """
    present = set(np.unique(values).tolist())
    if convention == SERAG:
        return from_serag(values)
    allowed = set(CHANNEL_VALUES.tolist()) if convention == OURS else set(DRAWEM_TO_LABEL)
    extra = sorted(present - allowed)
    if extra:
        shown = ", ".join(str(v) for v in extra[:6]) + (" ..." if len(extra) > 6 else "")
        raise ValueError(
            f"holds label values {shown}, which the tissue convention does not have (0-7, 8 brainstem, "
            "9 hippocampi and amygdalae, 10 cyst, 11 punctate lesion); a parcellation (e.g. Draw-EM's 87 "
            "regions) is not a tissue map"
        )
    lut = np.zeros(max(DRAWEM_TO_LABEL) + 1, np.uint8)
    for value, ours in DRAWEM_TO_LABEL.items():
        lut[value] = ours
    return lut[values.astype(np.int64)]


def load_label_map(path: str | Path, volume, convention: str | None = None) -> LabelMap:
    """Read a label-map file onto ``volume``'s RAS+ grid, in our label values.

    Parameters
    ----------
    path : str or Path
        NIfTI label map, on the scan's own grid (any stored orientation).
    volume : model.volume.Volume
        The open scan.
    convention : str, optional
        :data:`OURS`, :data:`DRAWEM` or :data:`SERAG`; default :func:`detect_convention` (and
        :data:`DRAWEM`, said in the note, when it cannot tell).

    Raises
    ------
    LabelMapError
        Unreadable, not a label map, not on the volume's grid, or values outside the convention.
    """
    path = Path(path)
    values, affine, axcodes = read_label_file(path)
    problem = grid_mismatch(values.shape, affine, volume)
    if problem:
        raise LabelMapError(path, problem)
    if values.max() > 255:
        raise LabelMapError(path, f"holds label values up to {int(values.max())}: not a tissue label map (0-11)")
    guessed = convention is None
    if convention is None:
        convention = detect_convention(values) or DRAWEM
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown label convention {convention!r}; use one of {tuple(CONVENTIONS)}")
    try:
        labels = to_our_labels(values, convention)
    except ValueError as exc:
        raise LabelMapError(path, str(exc)) from exc
    how = "detected" if guessed else "as chosen"
    note = f"Read as {CONVENTIONS[convention]} ({how})"
    if "".join(axcodes) != "RAS":
        note += f"; reoriented from {''.join(axcodes)} to RAS+ (no interpolation)"
    return LabelMap(labels=labels, path=path, convention=convention, note=note)


def segmentation_report(labels, affine, pma_weeks=None, pma_source: str = "", source: str = "model"):
    """:class:`model.findings_types.SegmentationReport` of a label map: THE call the viewer makes,
    for the network's map and for a file's alike (:func:`model.measure.report_from_labels`, bundled
    age references), so the same map gives the same numbers whichever way it came.

    Returns None when :mod:`model.measure` is not available in this installation.

    Raises
    ------
    ValueError
        A label map or PMA :func:`model.measure.report_from_labels` refuses, or a reference table
        that cannot be read (:class:`model.norms_table.NormError`).
    """
    try:
        from model.measure import report_from_labels
    except ModuleNotFoundError as exc:
        if exc.name != "model.measure":
            raise
        return None
    return report_from_labels(labels, affine, pma_weeks=pma_weeks, pma_source=pma_source, source=source)
