"""Loading a scan: NIfTI file -> :class:`Volume` in closest canonical RAS+ orientation.

Every other part of the product (display, preprocessing, TTA, Grad-CAM) works on ``Volume.data``,
whose voxel axes are (X, Y, Z) pointing to patient Right, Anterior, Superior. The reorientation is
a pure permutation/flip of voxel axes (nibabel ``io_orientation`` + ``apply_orientation``), so no
intensity is interpolated, and it can be undone exactly with :meth:`Volume.to_source_grid` to write
results on the file's own voxel grid and affine.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.affines import apply_affine, obliquity
from nibabel.orientations import (
    aff2axcodes,
    apply_orientation,
    axcodes2ornt,
    inv_ornt_aff,
    io_orientation,
    ornt_transform,
)

from model.acquisition import from_nifti
from model.errors import ScanError

#: File name endings we accept as NIfTI-1/NIfTI-2.
NIFTI_SUFFIXES = (".nii", ".nii.gz")
#: Obliquity (radians, nibabel.affines.obliquity) above which the display says it is approximate.
OBLIQUE_TOLERANCE_RAD = 1e-3
_RAS_ORNT = axcodes2ornt(("R", "A", "S"))


def is_nifti_path(path: str | Path) -> bool:
    """True when the file name ends in ``.nii`` or ``.nii.gz`` (case-insensitive)."""
    name = Path(path).name.lower()
    return name.endswith(NIFTI_SUFFIXES)


@dataclass(frozen=True)
class HeaderInfo:
    """Facts about the file as stored on disk, for the header panel and for writing results back.

    Attributes
    ----------
    shape : tuple of int
        Full on-disk shape (may be 4D with a single volume).
    zooms_mm : tuple of float
        Voxel size along the three on-disk spatial axes, mm.
    axcodes : tuple of str
        On-disk orientation codes, e.g. ``('L', 'A', 'S')``.
    dtype : str
        On-disk data type.
    scl_slope, scl_inter : float or None
        NIfTI intensity scaling (None when unset).
    qform_code, sform_code : int
        NIfTI qform/sform codes.
    qform_sform_differ : bool
        True when both are set and their affines differ by more than 1e-3 mm.
    obliquity_rad : float
        Largest obliquity of the voxel axes (nibabel.affines.obliquity), radians.
    stored_pixdim_mm : tuple of float or None
        ``pixdim[1:4]`` exactly as stored, before nibabel replaces zero sizes by 1 and negative ones
        by their absolute value (None when not read from bytes).
    xyzt_units : int
        NIfTI ``xyzt_units`` code of the file (kept when results are written on its grid).
    qform_axcodes, sform_axcodes : tuple of str or None
        Orientation codes of the qform / sform when their code is set (None otherwise).
    """

    shape: tuple
    zooms_mm: tuple
    axcodes: tuple
    dtype: str
    scl_slope: float | None
    scl_inter: float | None
    qform_code: int
    sform_code: int
    qform_sform_differ: bool
    obliquity_rad: float
    stored_pixdim_mm: tuple | None = None
    xyzt_units: int = 0
    qform_axcodes: tuple | None = None
    sform_axcodes: tuple | None = None

    @property
    def orientation_known(self) -> bool:
        """False when neither qform nor sform is set (codes 0): the directions are a guess
        (NIfTI-1 "method 1", ``pixdim`` only), so left and right may be swapped."""
        return self.qform_code > 0 or self.sform_code > 0

    @property
    def bad_voxel_sizes(self) -> bool:
        """True when the stored voxel size has a zero or negative value (nibabel replaced it)."""
        return self.stored_pixdim_mm is not None and any(not v > 0 for v in self.stored_pixdim_mm)

    @property
    def left_right_conflict(self) -> bool:
        """True when qform and sform are both set and disagree on which side is patient left.

        The stored voxel order then means one laterality by one header field and the opposite by
        the other; nibabel (and this program) uses the sform, but which is right cannot be told.
        """
        q, s = self.qform_axcodes, self.sform_axcodes
        if q is None or s is None:
            return False
        lateral = lambda codes: next(((i, c) for i, c in enumerate(codes) if c in "LR"), None)  # noqa: E731
        return lateral(q) != lateral(s)

    @property
    def oblique(self) -> bool:
        """True when display in the closest canonical orientation is an approximation."""
        return self.obliquity_rad > OBLIQUE_TOLERANCE_RAD


@dataclass
class Volume:
    """A 3D scan in closest canonical RAS+ orientation.

    Attributes
    ----------
    data : np.ndarray, shape (X, Y, Z), float32
        Intensities (NIfTI scaling applied); axis 0 increases to patient Right, 1 to Anterior,
        2 to Superior.
    affine : np.ndarray, shape (4, 4), float64
        Voxel index (i, j, k) -> world position (mm, RAS+) for ``data``.
    source_affine : np.ndarray, shape (4, 4)
        The file's own affine (for its on-disk voxel order).
    source_ornt : np.ndarray, shape (3, 2)
        nibabel orientation of the on-disk axes relative to RAS+ (``io_orientation``).
    path : Path or None
        Where the scan came from (None for a volume made in memory).
    header : HeaderInfo or None
    sha256 : str or None
        SHA-256 of the file's bytes.
    extra : dict
        What loaders add: ``acquisition`` (:class:`model.acquisition.Acquisition`, when the file's
        sidecar, BIDS name or header say how it was acquired), ``dicom`` and the converter's notes for
        a DICOM series (:func:`model.dicom.load_series`).
    """

    data: np.ndarray
    affine: np.ndarray
    source_affine: np.ndarray
    source_ornt: np.ndarray
    path: Path | None = None
    header: HeaderInfo | None = None
    sha256: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple:
        """(X, Y, Z) shape of :attr:`data`."""
        return tuple(self.data.shape)

    @property
    def spacing_mm(self) -> np.ndarray:
        """Voxel size along X, Y, Z in mm, shape (3,), from the column norms of the affine."""
        return np.sqrt((self.affine[:3, :3] ** 2).sum(axis=0))

    @property
    def source_shape(self) -> tuple:
        """Spatial shape of the file on disk (its own voxel order)."""
        return _source_shape(self.data.shape, self.source_ornt)

    def world_mm(self, index_ijk) -> np.ndarray:
        """World position (mm, RAS+) of voxel index/indices ``index_ijk`` (..., 3)."""
        return apply_affine(self.affine, np.asarray(index_ijk, dtype=float))

    def index_ijk(self, world_mm) -> np.ndarray:
        """Continuous voxel index (..., 3) of world position(s) ``world_mm`` (mm, RAS+)."""
        return apply_affine(np.linalg.inv(self.affine), np.asarray(world_mm, dtype=float))

    def to_source_grid(self, array: np.ndarray) -> np.ndarray:
        """Put an array on this volume's RAS+ grid back into the file's on-disk voxel order.

        Parameters
        ----------
        array : np.ndarray, shape (X, Y, Z)
            Same shape as :attr:`data` (e.g. a Grad-CAM heatmap).

        Returns
        -------
        np.ndarray
            Shape :attr:`source_shape`; together with :attr:`source_affine` it describes exactly
            the same world positions as ``array`` with :attr:`affine`.
        """
        if array.shape[:3] != self.data.shape:
            raise ValueError(f"array shape {array.shape} does not match volume shape {self.data.shape}")
        back = ornt_transform(_RAS_ORNT, self.source_ornt)
        return np.ascontiguousarray(apply_orientation(array, back))

    def source_image(self, array: np.ndarray) -> nib.Nifti1Image:
        """NIfTI image of ``array`` (RAS+ grid) on the file's own grid and affine (qform = sform).

        The input's qform/sform codes (e.g. 2 = aligned) and ``xyzt_units`` are kept when known
        (a code 0 of the input is written as 0: no orientation is claimed that the input lacked);
        for a volume made in memory both codes are 1 (scanner) and units mm.
        """
        img = nib.Nifti1Image(self.to_source_grid(array).astype(np.float32), self.source_affine)
        h = self.header
        qcode = 1 if h is None else (h.qform_code or h.sform_code)
        scode = 1 if h is None else (h.sform_code or h.qform_code)
        img.set_qform(self.source_affine, code=int(qcode))
        img.set_sform(self.source_affine, code=int(scode))
        if h is not None and h.xyzt_units:
            img.header["xyzt_units"] = h.xyzt_units
        else:
            img.header.set_xyzt_units("mm")
        return img


def _source_shape(ras_shape, source_ornt) -> tuple:
    """Shape on disk given the RAS+ shape and the on-disk orientation (inverse permutation)."""
    out = [0, 0, 0]
    for disk_axis, (ras_axis, _flip) in enumerate(source_ornt):
        out[disk_axis] = int(ras_shape[int(ras_axis)])
    return tuple(out)


def volume_from_array(data: np.ndarray, affine: np.ndarray, path: str | Path | None = None) -> Volume:
    """Make a :class:`Volume` from an array on any grid, reoriented to closest canonical RAS+.

    Parameters
    ----------
    data : np.ndarray, shape (I, J, K)
    affine : np.ndarray, shape (4, 4)
        Voxel -> world (mm, RAS+) for ``data``.
    path : str or Path, optional
        Used only in error messages.

    Raises
    ------
    ScanError
        Same checks as :func:`load_volume` for values and geometry.
    """
    where = Path(path) if path is not None else Path("<array>")
    data, nan_background = _nan_background_filled(where, np.asarray(data))
    _check_values(where, data)
    affine = np.asarray(affine, dtype=float)
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise ScanError(where, "the affine (voxel-to-world matrix) is not invertible; the header is damaged")
    ornt = io_orientation(affine)
    ras = apply_orientation(data.astype(np.float32, copy=False), ornt)
    ras_affine = affine @ inv_ornt_aff(ornt, data.shape[:3])
    return Volume(
        data=np.ascontiguousarray(ras, dtype=np.float32),
        affine=ras_affine,
        source_affine=affine.copy(),
        source_ornt=ornt,
        path=Path(path) if path is not None else None,
        extra={"nan_background_voxels": nan_background} if nan_background else {},
    )


def _nan_background_filled(where: Path, data: np.ndarray) -> tuple[np.ndarray, int]:
    """Replace NaN voxels outside the head by the background value; refuse NaN inside the head.

    The head is the finite voxels after a one-voxel morphological closing and hole filling
    (scipy.ndimage ``binary_closing`` on a padded mask, ``binary_fill_holes``). NaN voxels outside
    it - an exporter that masks the background with NaN - get ``min(0, finite minimum)``. NaN
    enclosed by finite voxels, or more than 1 % of the head's voxels NaN inside it (lines, planes),
    is damage inside the head: left as is, so :func:`_check_values` refuses the scan.

    Returns
    -------
    data : np.ndarray
        ``data`` itself when nothing was filled, else a float32 copy with the background filled.
    n_filled : int
        Number of NaN voxels treated as background.
    """
    if data.ndim != 3 or not np.issubdtype(data.dtype, np.floating):
        return data, 0
    nan = np.isnan(data)
    if not nan.any() or nan.all() or np.isinf(data).any():
        return data, 0
    from scipy import ndimage

    finite = ~nan
    padded = np.pad(finite, 2, constant_values=False)
    closed = ndimage.binary_closing(padded, structure=np.ones((3, 3, 3), bool))[2:-2, 2:-2, 2:-2]
    head = ndimage.binary_fill_holes(closed | finite)
    enclosed = nan & ndimage.binary_fill_holes(finite)
    if enclosed.any() or np.count_nonzero(nan & head) > 0.01 * np.count_nonzero(head):
        return data, 0
    filled = data.astype(np.float32, copy=True)
    filled[nan] = min(0.0, float(np.min(filled[finite])))
    return filled, int(np.count_nonzero(nan))


def _check_values(where: Path, data: np.ndarray) -> None:
    if data.ndim != 3:
        raise ScanError(where, f"expected a 3D volume, got an array of shape {data.shape}")
    if data.size == 0:
        raise ScanError(where, f"the image is empty (shape {data.shape})")
    if min(data.shape) < 2:
        raise ScanError(where, f"this is a 2D image (shape {data.shape}); a 3D volume is needed")
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise ScanError(
            where,
            f"{bad} voxel(s) are NaN or infinite (NaN is accepted only as background outside "
            "the head); the file is damaged or was exported wrongly",
        )
    lo, hi = float(data.min()), float(data.max())
    if lo == hi:
        raise ScanError(where, f"every voxel has the same value ({lo:g}); there is no image to analyse")


def load_volume(path: str | Path, compute_hash: bool = True) -> Volume:
    """Load a NIfTI scan and reorient it to closest canonical RAS+ (nibabel).

    Parameters
    ----------
    path : str or Path
        A ``.nii`` or ``.nii.gz`` file holding one 3D volume (a 4D file with a single volume is
        accepted).
    compute_hash : bool
        Compute the SHA-256 of the file's bytes (for audit logs and batch resume).

    Returns
    -------
    Volume

    Raises
    ------
    ScanError
        With the file and the problem: missing, not NIfTI, unreadable or truncated, 2D, a 4D series
        of several volumes, empty, non-finite values, constant values, non-invertible affine.
    """
    path = Path(path)
    if not path.exists():
        raise ScanError(path, "file not found")
    if path.is_dir():
        raise ScanError(path, "is a folder, not a NIfTI file")
    if not is_nifti_path(path):
        raise ScanError(path, "not a NIfTI file (expected a name ending in .nii or .nii.gz)")
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ScanError(path, "the file disappeared before it could be read") from exc
    except OSError as exc:
        raise ScanError(path, f"cannot be read ({_short(exc)})") from exc
    vol = volume_from_bytes(raw, path)
    if compute_hash:
        vol.sha256 = hashlib.sha256(raw).hexdigest()
    return vol


def volume_from_bytes(raw: bytes, path: str | Path) -> Volume:
    """Parse the bytes of a ``.nii`` or ``.nii.gz`` file (read once, so a hash of ``raw`` describes
    exactly what was analysed even if the file changes afterwards).

    Raises
    ------
    ScanError
    """
    path = Path(path)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise ScanError(path, f"the compressed data is truncated or damaged ({_short(exc)})") from exc
    if len(raw) < 348:
        raise ScanError(path, f"cannot be read as NIfTI (only {len(raw)} bytes; a NIfTI header alone is 348)")
    img = None
    for klass in (nib.Nifti1Image, nib.Nifti2Image):
        try:
            img = klass.from_bytes(raw)
            break
        except (nib.filebasedimages.ImageFileError, nib.spatialimages.HeaderDataError, ValueError, EOFError) as exc:
            error = exc
    if img is None:
        raise ScanError(path, f"cannot be read as NIfTI ({_short(error)})")
    vol = volume_from_image(img, path)
    acquisition = from_nifti(path, img.header.get("descrip", b""))
    if acquisition is not None:  # what the sidecar, the BIDS name or dcm2niix's descrip say (TE, TR, TI)
        vol.extra["acquisition"] = acquisition
    try:  # the voxel size as stored, before nibabel's fix-ups (check=False keeps it as it is)
        size = 348 if isinstance(img, nib.Nifti1Image) and not isinstance(img, nib.Nifti2Image) else 540
        stored = img.header_class(raw[:size], check=False)["pixdim"][1:4]
        if vol.header is not None:
            vol.header = replace(vol.header, stored_pixdim_mm=tuple(float(v) for v in stored))
    except (ValueError, nib.spatialimages.HeaderDataError):  # pragma: no cover - header parsed above
        pass
    return vol


def volume_from_image(img: nib.Nifti1Image, path: str | Path | None = None) -> Volume:
    """:class:`Volume` from an in-memory NIfTI image (same checks as :func:`load_volume`).

    Parameters
    ----------
    img : nibabel.Nifti1Image or Nifti2Image
    path : str or Path, optional
        Where it came from (for messages and the header panel); None for a generated image.

    Raises
    ------
    ScanError
    """
    where = Path(path) if path is not None else Path("<in-memory image>")
    shape = tuple(int(n) for n in img.shape)
    if len(shape) < 3 or min(shape[:3]) < 2:
        raise ScanError(where, f"this is a 2D image (shape {shape}); a 3D volume is needed")
    if len(shape) > 3:
        n_volumes = int(np.prod(shape[3:]))
        if n_volumes > 1:
            raise ScanError(
                where,
                f"this is a 4D series of {n_volumes} volumes (shape {shape}); open a single 3D T2 volume",
            )
    try:
        data = np.asarray(img.dataobj, dtype=np.float32).reshape(shape[:3])
    except (OSError, EOFError, ValueError, zlib.error, gzip.BadGzipFile) as exc:
        raise ScanError(
            where, f"the image data cannot be read; the file is truncated or damaged ({_short(exc)})"
        ) from exc
    except MemoryError as exc:
        raise ScanError(where, f"the image (shape {shape}) is too large for this computer's memory") from exc
    vol = volume_from_array(data, img.affine, path=path)
    vol.header = _header_info(img, shape)
    return vol


def _header_info(img, shape) -> HeaderInfo:
    hdr = img.header
    qform, qcode = img.get_qform(coded=True)
    sform, scode = img.get_sform(coded=True)
    differ = bool(
        qform is not None
        and sform is not None
        and int(qcode) > 0
        and int(scode) > 0
        and not np.allclose(qform, sform, atol=1e-3)
    )
    slope, inter = hdr.get_slope_inter()
    return HeaderInfo(
        shape=shape,
        zooms_mm=tuple(float(z) for z in hdr.get_zooms()[:3]),
        axcodes=tuple(aff2axcodes(img.affine)),
        dtype=str(hdr.get_data_dtype()),
        scl_slope=None if slope is None else float(slope),
        scl_inter=None if inter is None else float(inter),
        qform_code=int(qcode),
        sform_code=int(scode),
        qform_sform_differ=differ,
        obliquity_rad=float(np.max(obliquity(img.affine))),
        xyzt_units=int(hdr["xyzt_units"]) if "xyzt_units" in hdr else 0,
        qform_axcodes=tuple(aff2axcodes(qform)) if qform is not None and int(qcode) > 0 else None,
        sform_axcodes=tuple(aff2axcodes(sform)) if sform is not None and int(scode) > 0 else None,
    )


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
