"""DICOM input: the real GE series against dcm2niix, seeded series in several orientations, several
series in one folder, DICOMDIR, enhanced multi-frame, compressed transfer syntaxes, rescale, refusals."""

import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset

from model.dicom import find_series, image_series, load_dicom, load_series, select_series
from model.errors import ScanError
from model.volume import volume_from_array
from tests.conftest import SHARED_DATA
from tests.model.dicom_series import rotation, save, slice_datasets, uid, volume, write_series

GE = SHARED_DATA / "dicom-ge-mprage"


def _diag(*zooms, origin=(-10.0, 20.0, -5.0)):
    a = np.diag([*zooms, 1.0])
    a[:3, 3] = origin
    return a


def _sagittal():
    a = np.zeros((4, 4))
    a[:3, 0] = [0, 0.9, 0]  # columns run anterior
    a[:3, 1] = [0, 0, -1.1]  # rows run inferior
    a[:3, 2] = [1.5, 0, 0]  # slices run right
    a[:3, 3] = [-4.0, -30.0, 40.0]
    a[3, 3] = 1
    return a


def _coronal():
    a = np.zeros((4, 4))
    a[:3, 0] = [-0.8, 0, 0]  # columns run left
    a[:3, 1] = [0, 0, -0.9]  # rows run inferior
    a[:3, 2] = [0, 1.3, 0]
    a[:3, 3] = [30.0, -5.0, 25.0]
    a[3, 3] = 1
    return a


ORIENTATIONS = {
    "axial": _diag(0.8, 0.9, 1.7),
    "axial-lps-order": _diag(-0.8, -0.9, 1.7),
    "sagittal": _sagittal(),
    "coronal": _coronal(),
    "oblique-axial-20deg": rotation("x", 20) @ _diag(0.8, 0.9, 1.7),
    "oblique-sagittal-15deg": rotation("z", 15) @ _sagittal(),
}


@pytest.mark.parametrize("name", list(ORIENTATIONS))
def test_seeded_series_reads_back_with_the_right_affine(tmp_path, name):
    data, affine = volume(seed=3), ORIENTATIONS[name]
    write_series(tmp_path / "in", data, affine)
    (series,) = find_series(tmp_path / "in")
    vol = load_series(series)
    expected = volume_from_array(data.astype(np.float32), affine)
    assert vol.shape == expected.shape
    np.testing.assert_allclose(vol.affine, expected.affine, atol=1e-3)
    np.testing.assert_array_equal(vol.data, expected.data)
    assert (
        series.orientation
        == {
            "axial": "axial",
            "axial-lps-order": "axial",
            "sagittal": "sagittal",
            "coronal": "coronal",
            "oblique-axial-20deg": "oblique axial",
            "oblique-sagittal-15deg": "oblique sagittal",
        }[name]
    )
    assert series.n_images == data.shape[2]


def test_guard_a_transposed_series_would_fail(tmp_path):
    """The comparison above can fail: a series written with rows and columns swapped differs."""
    data, affine = volume(seed=3), ORIENTATIONS["axial"]
    write_series(tmp_path / "in", np.ascontiguousarray(data.transpose(1, 0, 2)), affine)
    vol = load_series(find_series(tmp_path / "in")[0])
    expected = volume_from_array(data.astype(np.float32), affine)
    assert vol.shape != expected.shape or not np.array_equal(vol.data, expected.data)


def test_real_ge_series_matches_its_dcm2niix_reference():
    folder, ref_path = GE / "series", GE / "reference-dcm2niix.nii.gz"
    if not ref_path.is_file():
        pytest.skip(f"real GE DICOM series not available: {folder} (../shared/data is absent)")
    (series,) = find_series(folder)
    assert (series.series_number, series.n_images, series.modality) == (5, 130, "MR")
    assert series.orientation == "oblique axial" and not series.t2_weighted
    vol = load_series(series)
    ref = nib.as_closest_canonical(nib.load(ref_path))
    assert vol.shape == ref.shape[:3]
    np.testing.assert_allclose(vol.affine, ref.affine, atol=1e-3)
    np.testing.assert_array_equal(vol.data, np.asarray(ref.dataobj, dtype=np.float32))
    assert vol.header.oblique and len(vol.sha256) == 64


def test_several_series_t2_first_and_selection(tmp_path):
    data = volume(seed=1)
    write_series(tmp_path / "a", data, _diag(1, 1, 2), series="t1", number=2, description="T1 3D", te=3.0, tr=10.0)
    write_series(tmp_path / "b", volume(seed=2), _sagittal(), series="t2", number=7, description="Sag tse")
    write_series(
        tmp_path / "c",
        data,
        _diag(1, 1, 2),
        series="loc",
        number=1,
        description="3-plane loc",
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    found = find_series(tmp_path)
    assert [s.series_number for s in found] == [7, 2, 1]
    assert found[0].t2_weighted and not found[1].t2_weighted  # TE 120 / TR 8000 vs TE 3
    assert "localiser" in found[2].problem
    assert "0.90 x 1.10 x 1.50 mm" in found[0].label()
    with pytest.raises(ScanError, match="3 image series found"):
        load_dicom(tmp_path)
    vol = load_dicom(tmp_path, series="2")
    assert vol.extra["dicom"].series_number == 2
    assert select_series(found, found[1].series_uid) is found[1]
    with pytest.raises(LookupError, match="no series"):
        select_series(found, "99")


def test_dicomdir_lists_the_files(tmp_path):
    from pydicom.fileset import FileSet

    src = tmp_path / "src"
    paths = write_series(src, volume(seed=4), _diag(1, 1, 1.5))
    fs = FileSet()
    for p in paths:
        fs.add(pydicom.dcmread(p))
    fs.write(tmp_path / "cd")
    (tmp_path / "cd" / "stray").write_bytes(b"not dicom")
    (series,) = find_series(tmp_path / "cd")
    assert series.n_images == 5
    assert all("DICOMDIR" not in str(f) for f in series.files)
    np.testing.assert_array_equal(
        load_series(series).data, volume_from_array(volume(seed=4).astype(np.float32), _diag(1, 1, 1.5)).data
    )


def test_rescale_slope_and_intercept_are_applied(tmp_path):
    data = volume(seed=5)
    write_series(tmp_path, data, _diag(1, 1, 1), slope=2.5, intercept=-7.0)
    vol = load_series(find_series(tmp_path)[0])
    expected = volume_from_array(data.astype(np.float32) * 2.5 - 7.0, _diag(1, 1, 1))
    np.testing.assert_allclose(vol.data, expected.data, rtol=1e-6)
    assert vol.header.scl_slope == 2.5 and vol.header.scl_inter == -7.0


@pytest.mark.parametrize("syntax", ["RLELossless", "JPEGLSLossless", "JPEG2000Lossless"])
def test_compressed_transfer_syntax(tmp_path, syntax):
    import pydicom.uid

    data = volume(seed=6, shape=(40, 36, 4))  # JPEG 2000 needs at least 32 pixels per side
    datasets = slice_datasets(data, _diag(1, 1, 2))
    for ds in datasets:
        ds.compress(getattr(pydicom.uid, syntax))
    save(datasets, tmp_path / "in")
    assert pydicom.dcmread(next((tmp_path / "in").iterdir())).file_meta.TransferSyntaxUID.is_compressed
    vol = load_series(find_series(tmp_path / "in")[0])
    np.testing.assert_array_equal(vol.data, volume_from_array(data.astype(np.float32), _diag(1, 1, 2)).data)


def test_enhanced_multiframe_file(tmp_path):
    from highdicom.legacy import LegacyConvertedEnhancedMRImage

    data, affine = volume(seed=7), rotation("x", 20) @ _diag(0.8, 0.9, 1.7)
    enhanced = LegacyConvertedEnhancedMRImage(
        slice_datasets(data, affine),
        series_instance_uid=uid("enh"),
        series_number=9,
        sop_instance_uid=uid("enh", 1),
        instance_number=1,
    )
    (tmp_path / "in").mkdir()
    enhanced.save_as(tmp_path / "in" / "ENHANCED")
    (series,) = find_series(tmp_path / "in")
    assert series.n_images == data.shape[2] and len(series.files) == 1
    vol = load_series(series)
    expected = volume_from_array(data.astype(np.float32), affine)
    np.testing.assert_allclose(vol.affine, expected.affine, atol=1e-3)
    np.testing.assert_array_equal(vol.data, expected.data)


def test_hash_covers_pixels_and_geometry_not_names(tmp_path):
    data = volume(seed=8)
    write_series(tmp_path / "a", data, _diag(1, 1, 1))
    write_series(tmp_path / "b", data, _diag(1, 1, 1), patient=("Other^Name", "X", "20250101"))
    write_series(tmp_path / "c", data, _diag(1, 1, 1.1))
    write_series(tmp_path / "d", data + 1, _diag(1, 1, 1))
    h = {k: load_series(find_series(tmp_path / k)[0]).sha256 for k in "abcd"}
    assert h["a"] == h["b"] and len({h["a"], h["c"], h["d"]}) == 3


def _non_image(tmp_path, sop_class):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid(sop_class, "inst")
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uid("study-1"), uid(sop_class)
    ds.Modality, ds.SeriesNumber = "SR", 99
    save([ds], tmp_path)


def _mutate(tmp_path, change, **kwargs):
    datasets = slice_datasets(volume(seed=9, shape=(6, 7, 8)), _diag(1, 1, 2), **kwargs)
    change(datasets)
    save(datasets, tmp_path)


def _shift(ds, dx=0.0, dz=0.0):
    ipp = [float(v) for v in ds.ImagePositionPatient]
    ds.ImagePositionPatient = [ipp[0] + dx, ipp[1], ipp[2] + dz]


REFUSALS = {
    "structured report": (
        lambda t: _non_image(t, "1.2.840.10008.5.1.4.1.1.88.33"),
        "not an image series (Comprehensive SR",
    ),
    "presentation state": (lambda t: _non_image(t, "1.2.840.10008.5.1.4.1.1.11.1"), "Presentation State"),
    "localiser": (lambda t: _mutate(t, lambda d: None, image_type=("ORIGINAL", "PRIMARY", "LOCALIZER")), "localiser"),
    "missing slice": (lambda t: _mutate(t, lambda d: d.pop(4)), "missing slices: a 4.00 mm gap"),
    "uneven spacing": (lambda t: _mutate(t, lambda d: _shift(d[4], dz=0.7)), "unevenly spaced slices"),
    "mixed orientation": (
        lambda t: _mutate(t, lambda d: setattr(d[3], "ImageOrientationPatient", [1, 0, 0, 0, 0.9950042, -0.0998334])),
        "different orientations",
    ),
    "mixed sizes": (
        lambda t: _mutate(t, lambda d: (setattr(d[2], "Rows", 6), setattr(d[2], "PixelData", d[2].PixelData[:72]))),
        "images of different sizes in one series (6x6, 7x6)",
    ),
    "gantry tilt": (
        lambda t: _mutate(t, lambda d: [_shift(ds, dx=0.3 * i) for i, ds in enumerate(d)]),
        "gantry tilt of 8.5°",
    ),
    "two slices": (lambda t: _mutate(t, lambda d: d.__delitem__(slice(2, None))), "only 2 image(s)"),
    "repeated positions": (lambda t: _mutate(t, lambda d: _shift(d[4], dz=-2.0)), "8 images at 7 slice positions"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refusals_have_a_one_line_reason(tmp_path, case):
    make, reason = REFUSALS[case]
    make(tmp_path)
    (series,) = find_series(tmp_path)
    assert reason in series.problem and "\n" not in series.problem
    with pytest.raises(ScanError, match="series") as err:
        load_series(series)
    assert reason in str(err.value) and "\n" not in str(err.value)
    if case in ("structured report", "presentation state"):
        assert image_series([series]) == []
        with pytest.raises(ScanError, match="no DICOM image series"):
            load_dicom(tmp_path)


def test_non_dicom_folder_has_no_series(tmp_path):
    (tmp_path / "readme").write_text("hello")
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), tmp_path / "x.nii.gz")
    assert find_series(tmp_path) == []
    with pytest.raises(ScanError, match="no DICOM image series"):
        load_dicom(tmp_path)


def test_nifti_with_nan_background_is_analysed_with_a_warning_but_nan_inside_is_refused(tmp_path):
    from model.quality import quality_warnings
    from model.volume import load_volume

    idx = np.indices((24, 24, 24))
    r = np.sqrt(((idx - 12.0) ** 2).sum(0))
    data = np.where(r < 9, 100 + r, np.nan).astype(np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "nanbg.nii.gz")
    vol = load_volume(tmp_path / "nanbg.nii.gz")
    assert np.isfinite(vol.data).all() and vol.data.min() == 0.0
    assert any("were NaN; treated as background" in w for w in quality_warnings(vol))
    data[12, 12, 12] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "naninside.nii.gz")
    with pytest.raises(ScanError, match="NaN or infinite"):
        load_volume(tmp_path / "naninside.nii.gz")
