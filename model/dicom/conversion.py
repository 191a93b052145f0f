"""DICOM conversion: one series -> a :class:`model.volume.Volume` with its affine, by dcm2niix.

:func:`load_series` runs dcm2niix on links to the series' files (:func:`dcm2niix_path`), then follows
the NIfTI path (:func:`model.volume.volume_from_image`), keeps the series' Rescale Slope/Intercept
and hashes its stored pixel data and geometry (:func:`series_hash`). :func:`load_dicom` finds and
loads the one series under a folder or file. Imports :mod:`model.dicom.series` and
:mod:`model.dicom.discovery`.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np

from model.dicom.discovery import find_series, image_series, select_series, series_uid_of
from model.dicom.series import SeriesInfo
from model.errors import ScanError
from model.volume import Volume, volume_from_image

DCM2NIIX_TIMEOUT_S = 600


def dcm2niix_path() -> str:
    """Path of the dcm2niix executable of the ``dcm2niix`` PyPI package (else the one on PATH)."""
    try:
        import dcm2niix

        return str(dcm2niix.bin)
    except (ImportError, AttributeError):
        return "dcm2niix"


def series_hash(files, affine: np.ndarray, shape: tuple) -> str:
    """SHA-256 (hex) of a series' stored pixel data and geometry.

    The digest covers, in this order: each file's Pixel Data element value as stored (compressed
    bytes for an encapsulated transfer syntax), files ordered by SOP Instance UID; then the
    volume's spatial shape and its voxel-to-world affine (float64, mm, RAS+, rounded to 1e-6 mm).
    Tags other than Pixel Data (names, dates) do not change it, so anonymising a series keeps the
    hash, and resampled or re-ordered pixel data does not.
    """
    import pydicom

    items = []
    for path in files:
        ds = pydicom.dcmread(path)
        items.append((str(ds.get("SOPInstanceUID", "")), str(path), ds))
    digest = hashlib.sha256(b"gloresnet-dicom-series-v1\n")
    for _uid, _path, ds in sorted(items, key=lambda t: (t[0], t[1])):
        elem = ds.get((0x7FE0, 0x0010))
        digest.update(b"" if elem is None else bytes(elem.value))
    digest.update(json.dumps([list(map(int, shape)), np.round(np.asarray(affine, float), 6).tolist()]).encode())
    return digest.hexdigest()


def _convert(series: SeriesInfo) -> tuple[nib.Nifti1Image, list[str]]:
    """Run dcm2niix on links to the series' files; the NIfTI image (in memory) and its warnings."""
    with tempfile.TemporaryDirectory(prefix="gloresnet-dcm2niix-") as tmp:
        src, out = Path(tmp) / "in", Path(tmp) / "out"
        src.mkdir()
        out.mkdir()
        for i, path in enumerate(series.files):
            os.symlink(Path(path).resolve(), src / f"{i:06d}.dcm")
        cmd = [dcm2niix_path(), "-b", "n", "-z", "n", "-f", "series", "-o", str(out), str(src)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=DCM2NIIX_TIMEOUT_S, check=False)
        except FileNotFoundError as exc:
            raise ScanError(series.folder, "the dcm2niix converter is not installed (pip install dcm2niix)") from exc
        except subprocess.TimeoutExpired as exc:
            raise ScanError(series.folder, f"dcm2niix did not finish within {DCM2NIIX_TIMEOUT_S} s") from exc
        lines = (proc.stdout + "\n" + proc.stderr).splitlines()
        warnings = [ln.strip() for ln in lines if ln.strip().lower().startswith(("warning", "error"))]
        made = sorted(out.glob("*.nii"))
        if not made:
            why = warnings[-1] if warnings else (lines[-1].strip() if lines else f"exit code {proc.returncode}")
            raise ScanError(series.folder, f"dcm2niix could not convert series {series.series_number}: {why[:200]}")
        if len(made) > 1:
            raise ScanError(
                series.folder,
                f"dcm2niix split series {series.series_number} into {len(made)} volumes "
                "(several echoes, phases or slice groups); open a single 3D series",
            )
        raw = made[0].read_bytes()
    img = nib.Nifti1Image.from_bytes(raw)
    return img, warnings


def load_series(series: SeriesInfo, compute_hash: bool = True) -> Volume:
    """Load one series as a :class:`Volume` (closest canonical RAS+, like a NIfTI file).

    Parameters
    ----------
    series : SeriesInfo
        From :func:`find_series`.
    compute_hash : bool
        Compute :func:`series_hash` into ``Volume.sha256``.

    Returns
    -------
    Volume
        ``data`` float32 (X, Y, Z) with Rescale Slope/Intercept applied; ``source_affine`` is
        dcm2niix's grid (what ``--cam-out`` writes on); ``path`` the series' folder;
        ``extra["dicom"]`` the :class:`SeriesInfo`; ``extra["acquisition"]`` its
        :class:`model.acquisition.Acquisition`; ``extra["hash_of"]`` says what the hash covers;
        ``extra["converter"]`` and ``extra["converter_warnings"]``.

    Raises
    ------
    ScanError
        The series' :attr:`SeriesInfo.problem`, a conversion failure, or the NIfTI checks.
    """
    if series.problem:
        raise ScanError(series.folder, f"series {series.series_number}: {series.problem}")
    img, warnings = _convert(series)
    volume = volume_from_image(img, path=series.folder)
    slope, inter = _rescale(series)
    if volume.header is not None:
        volume.header = replace(volume.header, scl_slope=slope, scl_inter=inter)
    if compute_hash:
        volume.sha256 = series_hash(series.files, volume.affine, volume.shape)
    volume.extra.update(
        dicom=series,
        acquisition=series.acquisition,
        converter=_converter_version(),
        converter_warnings=warnings,
        hash_of="DICOM pixel data + geometry (model.dicom.series_hash)",
    )
    return volume


def _rescale(series: SeriesInfo) -> tuple[float | None, float | None]:
    import pydicom

    ds = pydicom.dcmread(series.files[0], stop_before_pixels=True)
    slope, inter = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is None and "SharedFunctionalGroupsSequence" in ds:
        shared = ds.SharedFunctionalGroupsSequence[0]
        if "PixelValueTransformationSequence" in shared:
            t = shared.PixelValueTransformationSequence[0]
            slope, inter = t.get("RescaleSlope"), t.get("RescaleIntercept")
    return (None if slope is None else float(slope)), (None if inter is None else float(inter))


def _converter_version() -> str:
    try:
        from importlib.metadata import version

        return f"dcm2niix {version('dcm2niix')}"
    except Exception:  # noqa: BLE001 - only a label
        return "dcm2niix"


def load_dicom(path: str | Path, series: str | None = None) -> Volume:
    """Load the one image series under ``path`` (a folder or a DICOM file), or the one ``series`` names.

    Parameters
    ----------
    path : str or Path
    series : str, optional
        Series number or Series Instance UID (:func:`select_series`); needed when there are several.

    Raises
    ------
    ScanError
        No image series, several without ``series``, an unknown ``series``, or the series' problem.
    """
    path = Path(path)
    found = image_series(find_series(path))
    if path.is_file():
        uid = series_uid_of(path)
        found = [s for s in found if s.series_uid == uid] or found
    if not found:
        raise ScanError(path, "no DICOM image series found")
    if series is not None:
        try:
            chosen = select_series(found, series)
        except LookupError as exc:
            raise ScanError(path, str(exc)) from exc
    elif len(found) > 1:
        raise ScanError(path, f"{len(found)} image series found; choose one (series number or UID)")
    else:
        chosen = found[0]
    return load_series(chosen)
