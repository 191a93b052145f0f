"""Loading: closest canonical RAS+ for every on-disk voxel order, and clear errors for bad files."""

import gzip

import nibabel as nib
import numpy as np
import pytest
from nibabel.orientations import apply_orientation, axcodes2ornt, inv_ornt_aff, ornt_transform

from model.errors import ScanError
from model.volume import load_volume, volume_from_array

RAS = axcodes2ornt(("R", "A", "S"))


def asymmetric_volume(shape=(7, 9, 11), seed=0):
    """Tiny seeded volume with a distinct value at every voxel, so any flip or transpose shows."""
    rng = np.random.default_rng(seed)
    data = rng.random(shape, dtype=np.float32) + np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    affine = np.diag([0.8, 0.9, 1.7, 1.0])
    affine[:3, 3] = [-10.0, 20.0, -5.0]
    return data, affine


def store_as(data, ras_affine, axcodes):
    """The same anatomy as an image with on-disk orientation ``axcodes`` and a correct affine."""
    target = axcodes2ornt(axcodes)
    transform = ornt_transform(RAS, target)
    disk = apply_orientation(data, transform)
    affine = ras_affine @ inv_ornt_aff(transform, data.shape)
    return nib.Nifti1Image(disk, affine)


ORIENTATIONS = [
    ("R", "A", "S"),
    ("L", "A", "S"),
    ("L", "P", "S"),
    ("R", "P", "I"),
    ("A", "S", "R"),  # permuted axes
    ("S", "L", "P"),
    ("P", "I", "L"),
]


@pytest.mark.parametrize("axcodes", ORIENTATIONS, ids=["".join(a) for a in ORIENTATIONS])
def test_every_voxel_order_loads_to_the_same_ras_volume(tmp_path, axcodes):
    data, affine = asymmetric_volume()
    path = tmp_path / f"{''.join(axcodes)}.nii.gz"
    img = store_as(data, affine, axcodes)
    assert nib.aff2axcodes(img.affine) == axcodes
    nib.save(img, path)
    vol = load_volume(path)
    np.testing.assert_array_equal(vol.data, data)
    np.testing.assert_allclose(vol.affine, affine, atol=1e-5)
    assert vol.header.axcodes == axcodes
    assert vol.source_shape == img.shape


@pytest.mark.parametrize("axcodes", ORIENTATIONS, ids=["".join(a) for a in ORIENTATIONS])
def test_result_written_on_the_source_grid_lines_up_in_world_space(tmp_path, axcodes):
    data, affine = asymmetric_volume()
    img = store_as(data, affine, axcodes)
    nib.save(img, tmp_path / "scan.nii")
    vol = load_volume(tmp_path / "scan.nii")
    out = vol.source_image(vol.data * 2)
    assert out.shape == img.shape
    np.testing.assert_allclose(out.affine, img.affine, atol=1e-6)
    # Same voxel on disk -> same value (doubled): the map lands where the scan is.
    np.testing.assert_allclose(np.asarray(out.dataobj), np.asarray(img.dataobj) * 2)


def test_world_and_index_are_inverse():
    data, affine = asymmetric_volume()
    vol = volume_from_array(data, affine)
    ijk = np.array([[1, 2, 3], [6, 8, 10]])
    np.testing.assert_allclose(vol.index_ijk(vol.world_mm(ijk)), ijk, atol=1e-9)
    np.testing.assert_allclose(vol.spacing_mm, [0.8, 0.9, 1.7])


def test_real_template_is_reoriented_from_las(t2_scan):
    img = nib.load(t2_scan)
    vol = load_volume(t2_scan)
    assert nib.aff2axcodes(img.affine) == ("L", "A", "S")
    assert vol.shape == (117, 159, 126)
    assert nib.aff2axcodes(vol.affine) == ("R", "A", "S")
    np.testing.assert_array_equal(vol.data, np.asarray(img.dataobj, dtype=np.float32)[::-1])
    assert len(vol.sha256) == 64


def test_single_volume_4d_is_accepted(tmp_path):
    data, affine = asymmetric_volume()
    nib.save(nib.Nifti1Image(data[..., None], affine), tmp_path / "one.nii.gz")
    np.testing.assert_array_equal(load_volume(tmp_path / "one.nii.gz").data, data)


def _write(tmp_path, name, array, affine=None):
    path = tmp_path / name
    nib.save(nib.Nifti1Image(array, np.eye(4) if affine is None else affine), path)
    return path


def _write_raw(path, data):
    path.write_bytes(data)
    return path


def _truncated(tmp_path, suffix=".nii.gz"):
    """A valid file cut short: half of a gzip stream, or a raw .nii cut 100 bytes into the data."""
    data, affine = asymmetric_volume((20, 20, 20))
    raw = _write(tmp_path, "full" + suffix, data, affine).read_bytes()
    keep = len(raw) // 2 if suffix == ".nii.gz" else 352 + 100
    return _write_raw(tmp_path / ("truncated" + suffix), raw[:keep])


def _text_named_nifti(tmp_path):
    path = tmp_path / "notes.nii.gz"
    path.write_bytes(gzip.compress(b"this is not an image"))
    return path


BAD_FILES = {
    "truncated gzip": (_truncated, "truncated or damaged"),
    "truncated uncompressed": (lambda t: _truncated(t, ".nii"), "truncated or damaged"),
    "text named .nii.gz": (_text_named_nifti, "cannot be read as NIfTI"),
    "non-NIfTI name": (lambda t: _write_raw(t / "scan.png", b"\x89PNG"), "not a NIfTI file"),
    "missing": (lambda t: t / "nope.nii.gz", "file not found"),
    "2D": (lambda t: _write(t, "slice.nii.gz", np.ones((32, 32), np.float32)), "2D image"),
    "single slice 3D": (lambda t: _write(t, "slab.nii.gz", np.random.rand(32, 32, 1).astype(np.float32)), "2D image"),
    "4D series": (
        lambda t: _write(t, "fmri.nii.gz", np.random.rand(8, 8, 8, 5).astype(np.float32)),
        "4D series of 5 volumes",
    ),
    "NaN": (
        lambda t: _write(
            t, "nan.nii.gz", np.where(np.eye(8)[..., None] > 0, np.nan, 1.0).repeat(8, 2).astype(np.float32)
        ),
        "NaN or infinite",
    ),
    "Inf": (lambda t: _write(t, "inf.nii.gz", np.full((8, 8, 8), np.inf, np.float32)), "NaN or infinite"),
    "constant": (lambda t: _write(t, "flat.nii.gz", np.full((8, 8, 8), 3.0, np.float32)), "same value (3)"),
    "empty": (lambda t: _write(t, "zero.nii.gz", np.zeros((8, 8, 8), np.float32)), "same value (0)"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_files_give_a_clear_message_naming_the_file(tmp_path, case):
    make, expected = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(ScanError) as info:
        load_volume(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message and "Traceback" not in message


def test_singular_affine_is_refused():
    with pytest.raises(ScanError, match="affine .* is not invertible"):
        volume_from_array(np.random.rand(8, 8, 8), np.zeros((4, 4)), path="sing.nii.gz")
