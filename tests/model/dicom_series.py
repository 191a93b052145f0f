"""Writing tiny DICOM series in tests (pydicom), from a volume and its RAS+ affine.

The DICOM geometry is derived from the NIfTI-style affine with the standard relations (DICOM
PS3.3 C.7.6.2.1.1): LPS = diag(-1, -1, 1) RAS; pixel (row r, column c) of slice k lies at
IPP_k + c * PixelSpacing[1] * IOP[:3] + r * PixelSpacing[0] * IOP[3:]. So voxel (i, j, k) of the
volume is column i, row j of slice k.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def uid(*parts) -> str:
    """A deterministic UID from the given parts."""
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def rotation(axis: str, degrees: float) -> np.ndarray:
    """4x4 rotation about x, y or z (RAS+)."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    r = np.eye(4)
    r[i, i] = r[j, j] = c
    r[i, j], r[j, i] = -s, s
    return r


def volume(shape=(6, 7, 5), seed=0) -> np.ndarray:
    """Seeded int16 volume with a distinct value at every voxel (any flip or transpose shows)."""
    rng = np.random.default_rng(seed)
    base = np.arange(np.prod(shape)).reshape(shape) * 3 + rng.integers(0, 3, shape) + 10
    return base.astype(np.int16)


def slice_datasets(  # noqa: PLR0913 - test helper mirroring DICOM attributes
    data,
    affine_ras,
    *,
    study="study-1",
    series="series-1",
    number=1,
    description="T2 axial",
    slope=None,
    intercept=None,
    image_type=("ORIGINAL", "PRIMARY", "M", "ND"),
    patient=("Baby^Test", "P-0001", "20260101"),
    te=120.0,
    tr=8000.0,
):
    """One pydicom dataset per slice (MR Image Storage, Explicit VR Little Endian)."""
    data = np.asarray(data)
    lps = LPS @ np.asarray(affine_ras, float)
    col_mm, row_mm = np.linalg.norm(lps[:3, 0]), np.linalg.norm(lps[:3, 1])
    iop = np.concatenate([lps[:3, 0] / col_mm, lps[:3, 1] / row_mm])
    out = []
    for k in range(data.shape[2]):
        ipp = lps[:3, 3] + k * lps[:3, 2]
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = uid(series, k)
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.StudyInstanceUID = uid(study)
        ds.SeriesInstanceUID = uid(series)
        ds.FrameOfReferenceUID = uid(study, "for")
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = patient
        ds.PatientSex = "F"
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20260115"
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = ds.AcquisitionTime = "101500"
        ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "1", "A1", ""
        ds.StudyDescription = "MRI brain neonate"
        ds.Modality, ds.Manufacturer, ds.ManufacturerModelName = "MR", "TestVendor", "Tiny 3T"
        ds.MagneticFieldStrength = 3
        ds.SeriesNumber, ds.InstanceNumber, ds.AcquisitionNumber = number, k + 1, 1
        ds.SeriesDescription = ds.ProtocolName = description
        ds.ImageType = list(image_type)
        ds.ScanningSequence, ds.SequenceVariant, ds.MRAcquisitionType = "SE", "NONE", "2D"
        ds.EchoTime, ds.RepetitionTime = te, tr
        ds.SliceThickness = float(np.linalg.norm(lps[:3, 2]))
        ds.PixelSpacing = [float(row_mm), float(col_mm)]
        ds.ImageOrientationPatient = [float(v) for v in iop]
        ds.ImagePositionPatient = [float(v) for v in ipp]
        ds.SliceLocation = float(ipp @ np.cross(iop[:3], iop[3:]))
        ds.PositionReferenceIndicator = ""
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = data.shape[1], data.shape[0]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        if slope is not None:
            ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = slope, intercept or 0.0, "US"
        ds.PixelData = np.ascontiguousarray(data[:, :, k].T.astype(np.int16)).tobytes()
        out.append(ds)
    return out


def save(datasets, folder: Path, names=None) -> list[Path]:
    """Write datasets into ``folder`` (file names without extension unless given)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, ds in enumerate(datasets):
        path = folder / (names[i] if names else f"IM{i:04d}")
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_series(folder: Path, data, affine_ras, **kwargs) -> list[Path]:
    """:func:`slice_datasets` + :func:`save`."""
    return save(slice_datasets(data, affine_ras, **kwargs), folder)


def reread(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path)


def oblique_affine() -> np.ndarray:
    """A seeded-test RAS+ affine: 12 degrees about x, anisotropic voxels (1.1, 1.2, 1.6) mm."""
    a = rotation("x", 12) @ np.diag([1.1, 1.2, 1.6, 1.0])
    a[:3, 3] = [-12.0, -14.0, -9.0]
    return a


def head(seed=0, shape=(14, 16, 12)) -> np.ndarray:
    """Seeded int16 volume with a zero background border (so it looks a little like a head)."""
    data = volume(seed=seed, shape=shape)
    data[:2], data[-2:] = 0, 0
    return data


def write_patient_series(
    folder: Path, seed=1, shape=(20, 22, 12), number=3, patient=("Baby^Test", "P-0001", "20260101")
):
    """One "T2 ax" series of :func:`head` for one patient (name, ID, birth date) into ``folder``."""
    return write_series(
        folder, head(seed, shape=shape), oblique_affine(), number=number, description="T2 ax", patient=patient
    )
