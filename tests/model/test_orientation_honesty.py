"""Issue 11: a file without orientation, with a zero voxel size, or whose qform and sform disagree
about left and right is said to be so (quality warnings, header facts, batch CSV), never guessed silently."""

import struct

import nibabel as nib
import numpy as np

from model.quality import ORIENTATION_UNKNOWN, quality_warnings
from model.score import read_worklist
from model.volume import load_volume


def _brain(shape=(60, 72, 60)):
    data = np.zeros(shape, np.float32)
    data[10:-10, 12:-12, 10:-10] = np.random.default_rng(0).uniform(50, 100, (40, 48, 40))
    data[-20:-10, -22:-12, -20:-10] = 200.0  # asymmetric
    return data


def write_unoriented(path, pixdim=(0.0, 1.5, 1.5), data=None):
    """A NIfTI-1 file with qform and sform codes 0 and exactly ``pixdim`` stored (nibabel would fix
    zero sizes on save, so the header bytes are patched)."""
    data = _brain() if data is None else data
    img = nib.Nifti1Image(data, None)
    img.set_qform(None, code=0)
    img.set_sform(None, code=0)
    raw = bytearray(img.to_bytes())
    raw[80:92] = struct.pack("<3f", *pixdim)  # pixdim[1:4] (pixdim starts at byte 76)
    path.write_bytes(bytes(raw))
    return path


def test_unoriented_zero_voxel_file_is_named_not_guessed(tmp_path):
    volume = load_volume(write_unoriented(tmp_path / "unoriented.nii"))
    h = volume.header
    assert (h.qform_code, h.sform_code) == (0, 0) and not h.orientation_known
    assert h.stored_pixdim_mm == (0.0, 1.5, 1.5) and h.bad_voxel_sizes
    warnings = quality_warnings(volume)
    assert any(w.startswith(ORIENTATION_UNKNOWN) and "assumed" in w for w in warnings)
    size = next(w for w in warnings if "voxel size in the header" in w)
    assert "(0, 1.5, 1.5) mm" in size and "1, 1.5, 1.5 mm was used" in size


def test_negative_voxel_size_is_a_warning_with_the_value_used(tmp_path):
    volume = load_volume(write_unoriented(tmp_path / "neg.nii", pixdim=(1.0, -1.0, 1.0)))
    assert any("(1, -1, 1) mm" in w and "1, 1, 1 mm was used" in w for w in quality_warnings(volume))


def test_oriented_file_has_none_of_these_warnings(tmp_path):
    img = nib.Nifti1Image(_brain(), np.diag([1.0, 1.0, 1.0, 1.0]))
    nib.save(img, tmp_path / "ok.nii.gz")
    volume = load_volume(tmp_path / "ok.nii.gz")
    assert volume.header.orientation_known and not volume.header.bad_voxel_sizes
    assert not volume.header.left_right_conflict
    assert quality_warnings(volume) == []


def test_qform_and_sform_that_disagree_on_left_and_right_are_flagged(tmp_path):
    ras = np.diag([1.0, 1.0, 1.0, 1.0])
    las = np.diag([-1.0, 1.0, 1.0, 1.0])
    las[0, 3] = 59
    img = nib.Nifti1Image(_brain(), ras)
    img.set_sform(ras, code=2)
    img.set_qform(las, code=1)
    nib.save(img, tmp_path / "flip.nii.gz")
    volume = load_volume(tmp_path / "flip.nii.gz")
    assert volume.header.left_right_conflict
    assert any("disagree about left and right" in w and "qform (LAS)" in w for w in quality_warnings(volume))


def test_batch_csv_carries_the_orientation_warning(tmp_path, small_weights):
    from model.bids import discover
    from model.checkpoint import load_weights
    from model.score import score_steps, write_worklist

    folder = tmp_path / "scans"
    folder.mkdir()
    write_unoriented(folder / "unoriented.nii")
    rows = [e.row for e in score_steps(discover(folder), load_weights(small_weights, "cpu"))]
    write_worklist(tmp_path / "w.csv", rows)
    (row,) = read_worklist(tmp_path / "w.csv")
    assert ORIENTATION_UNKNOWN in row["quality_warnings"] and "voxel size in the header" in row["quality_warnings"]


def test_heatmap_image_keeps_units_and_codes(tmp_path):
    img = nib.Nifti1Image(_brain(), np.diag([0.8, 0.8, 0.8, 1.0]))
    img.set_qform(img.affine, code=2)
    img.set_sform(img.affine, code=2)
    img.header.set_xyzt_units("micron", "msec")
    nib.save(img, tmp_path / "aligned.nii.gz")
    volume = load_volume(tmp_path / "aligned.nii.gz")
    out = volume.source_image(np.zeros(volume.shape, np.float32))
    assert int(out.header["qform_code"]) == 2 and int(out.header["sform_code"]) == 2
    assert out.header.get_xyzt_units() == ("micron", "msec")
