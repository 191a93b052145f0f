"""DICOM input: find the image series under a folder, describe them, load one as a :class:`Volume`.

What is whose, and why
----------------------
* **pydicom** reads the tags: discovery (files with or without an extension, a ``DICOMDIR`` when
  there is one), the description shown in the series picker, the identifiers shown in the header
  bar, the refusal checks below, and the stored Pixel Data bytes that go into the hash.
* **dcm2niix** (the PyPI wheel of Chris Rorden's converter; its build includes OpenJPEG and CharLS)
  converts pixels and geometry: slice ordering, vendor quirks, classic and enhanced multi-frame
  MR, JPEG / JPEG-LS / JPEG 2000 / RLE decompression, Rescale Slope/Intercept (kept as NIfTI
  ``scl_slope``/``scl_inter``, applied by nibabel). It is the field's reference: the NIfTI files
  our users compare with (dHCP, BIDS datasets) were made with it, so running it - rather than
  re-deriving an affine with pydicom + nibabel, or adding SimpleITK/GDCM's own LPS slice sorting
  and its partial enhanced-MR support - makes "same geometry as dcm2niix" true by construction.
  It runs on symbolic links to one series' files in a temporary folder, never in the input folder.
* **Ours**: only the checks that refuse a series with a one-line reason *before* conversion
  (dcm2niix converts many of these with a warning, which a reader would never see): non-image
  objects (structured reports, presentation states, ...), secondary captures, localisers, mixed
  orientations or image sizes, several images at one position, missing or unevenly spaced slices,
  and gantry tilt. A tilted (sheared) stack is **refused**, not resampled: resampling would change
  the intensities the network sees, and tilt is a CT artefact that an MR brain series should not
  have.

After conversion the volume follows exactly the NIfTI path (:func:`model.volume.volume_from_image`):
closest canonical RAS+, the same checks and, downstream, the same preprocessing. Its ``sha256`` is
the SHA-256 of the series' stored pixel data and geometry (:func:`series_hash`).

Submodules (each imports only the ones listed before it, never :mod:`model.dicom` itself; every
public name is re-exported here, so callers import from :mod:`model.dicom`, while a test that
patches a function patches it in the submodule that looks it up):

* :mod:`model.dicom.series` - :class:`SeriesInfo`, built from one series' headers, the refusal
  checks, each frame's geometry (:func:`frame_geometry`, also used for DICOM SEG export), and its
  text forms (picker label, command-line listing, worklist columns, audit fields);
* :mod:`model.dicom.discovery` - the candidate files under a folder (or its ``DICOMDIR``), their
  headers, grouped into series; picking one;
* :mod:`model.dicom.conversion` - dcm2niix conversion of one series into a :class:`Volume` with its
  affine, rescale and :func:`series_hash`; :func:`load_dicom`.
"""

from model.dicom.conversion import (
    DCM2NIIX_TIMEOUT_S,
    dcm2niix_path,
    load_dicom,
    load_series,
    series_hash,
)
from model.dicom.discovery import (
    candidate_files,
    find_series,
    image_series,
    is_dicom_file,
    is_dicom_input,
    select_series,
    series_uid_of,
)
from model.dicom.series import (
    ORIENTATION_TOLERANCE,
    SPACING_TOLERANCE,
    TILT_TOLERANCE_DEG,
    SeriesInfo,
    audit_fields,
    frame_geometry,
    listing,
    row_columns,
)

__all__ = [
    "DCM2NIIX_TIMEOUT_S",
    "ORIENTATION_TOLERANCE",
    "SPACING_TOLERANCE",
    "TILT_TOLERANCE_DEG",
    "SeriesInfo",
    "audit_fields",
    "candidate_files",
    "dcm2niix_path",
    "find_series",
    "frame_geometry",
    "image_series",
    "is_dicom_file",
    "is_dicom_input",
    "listing",
    "load_dicom",
    "load_series",
    "row_columns",
    "select_series",
    "series_hash",
    "series_uid_of",
]
