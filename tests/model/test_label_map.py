"""Label maps read from a file (issue 29): orientation, grid check, conventions, the one report call."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from model.label_map import (
    DRAWEM,
    OURS,
    SERAG,
    LabelMapError,
    detect_convention,
    load_label_map,
    segmentation_report,
    to_our_labels,
)
from model.volume import load_volume, volume_from_array
from tests.conftest import serag_path


def _volume(shape=(12, 14, 10), affine=None):
    rng = np.random.default_rng(0)
    return volume_from_array(rng.uniform(1, 2, shape).astype(np.float32), np.eye(4) if affine is None else affine)


def _save(path, data, affine):
    img = nib.Nifti1Image(np.asarray(data), affine)
    img.set_sform(affine, code=1)
    img.set_qform(affine, code=1)
    nib.save(img, str(path))
    return path


def test_a_map_stored_in_another_orientation_lands_on_the_volumes_ras_grid(tmp_path):
    volume = _volume()
    labels = np.zeros(volume.shape, np.uint8)
    labels[8:, 9:, 6:] = 5  # right, anterior, superior corner
    flip = np.array([[-1, 0, 0, volume.shape[0] - 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float)
    path = _save(tmp_path / "las.nii.gz", labels[::-1].astype(np.int16), volume.affine @ flip)  # stored LAS
    got = load_label_map(path, volume)
    assert np.array_equal(got.labels, labels) and got.labels.dtype == np.uint8
    assert got.convention == OURS and "reoriented from LAS" in got.note


def test_a_map_off_the_grid_is_refused_with_the_file_name(tmp_path):
    volume = _volume()
    with pytest.raises(LabelMapError, match=r"small\.nii\.gz: its grid is 12x14x9 voxels"):
        load_label_map(_save(tmp_path / "small.nii.gz", np.zeros((12, 14, 9), np.uint8), volume.affine), volume)
    scaled = np.diag([1.2, 1.0, 1.0, 1.0])
    with pytest.raises(LabelMapError, match=r"scaled\.nii\.gz: its grid lies up to 2\.20 mm away"):
        load_label_map(_save(tmp_path / "scaled.nii.gz", np.zeros(volume.shape, np.uint8), scaled), volume)
    tiny = np.eye(4)
    tiny[0, 3] = 0.01  # float rounding of another program's affine is not a different grid
    assert load_label_map(_save(tmp_path / "ok.nii.gz", np.zeros(volume.shape, np.uint8), tiny), volume)


def test_not_a_label_map_is_said_so(tmp_path):
    volume = _volume()
    fractional = np.full(volume.shape, 0.5, np.float32)
    with pytest.raises(LabelMapError, match="fractional"):
        load_label_map(_save(tmp_path / "prob.nii.gz", fractional, volume.affine), volume)
    parcels = np.zeros(volume.shape, np.int16)
    parcels[2:4, 2:4, 2:4] = 40
    with pytest.raises(LabelMapError, match="parcellation"):
        load_label_map(_save(tmp_path / "parc.nii.gz", parcels, volume.affine), volume)
    with pytest.raises(LabelMapError, match="file not found"):
        load_label_map(tmp_path / "missing.nii.gz", volume)


def test_conventions_are_told_apart_by_what_label_8_touches():
    base = np.zeros((10, 10, 10), np.int64)
    base[2:8, 2:8, 2:8] = 3
    serag = base.copy()
    serag[4:6, 4:6, 4:6] = 8  # inside the white matter: high-intensity white matter
    assert detect_convention(serag) == SERAG
    drawem = base.copy()
    drawem[2:8, 2:8, 0:2] = 6
    drawem[4:6, 4:6, 0:2] = 8  # inside the cerebellum: the brainstem
    assert detect_convention(drawem) == DRAWEM
    with_injury = serag.copy()
    with_injury[3, 3, 3] = 10
    assert detect_convention(with_injury) == DRAWEM  # 10/11: the Draw-EM convention
    assert detect_convention(base) == OURS
    assert np.array_equal(np.unique(to_our_labels(serag, SERAG)), [0, 3])
    assert np.array_equal(np.unique(to_our_labels(drawem, DRAWEM)), [0, 3, 6])


def test_the_real_serag_template_map_is_read_as_serag(serag_t2):
    tissue = serag_path("tissue-labels", 40)
    volume = load_volume(serag_t2)
    got = load_label_map(tissue, volume)
    assert got.convention == SERAG and "reoriented from LAS" in got.note
    assert set(np.unique(got.labels).tolist()) <= {0, 1, 2, 3, 4, 5, 6, 7}


def test_the_report_is_report_from_labels_of_the_same_map(tmp_path):
    from model.measure import report_from_labels

    labels = np.zeros((20, 20, 20), np.uint8)
    labels[4:16, 4:16, 4:16] = 3
    labels[8:12, 8:12, 8:12] = 10
    affine = np.diag([0.8, 0.8, 1.5, 1.0])
    ours = segmentation_report(labels, affine, source="file.nii.gz")
    theirs = report_from_labels(labels, affine, source="file.nii.gz")
    assert ours.to_dict() == theirs.to_dict()
