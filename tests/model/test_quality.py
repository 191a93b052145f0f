"""Quality warnings name what is unusual about a scan, and stay quiet on a normal one."""

import nibabel as nib
import numpy as np

from model.quality import quality_warnings
from model.volume import load_volume, volume_from_array


def _brain(shape=(100, 120, 100), spacing=(1.0, 1.0, 1.0)):
    data = np.zeros(shape, np.float32)
    c = [s // 2 for s in shape]
    data[c[0] - 30 : c[0] + 30, c[1] - 40 : c[1] + 40, c[2] - 30 : c[2] + 30] = 100.0
    return data, np.diag([*spacing, 1.0])


def test_skull_stripped_neonatal_like_scan_has_no_warnings(t2_scan):
    assert quality_warnings(load_volume(t2_scan)) == []


def test_each_problem_is_named(tmp_path):
    data, affine = _brain()
    assert quality_warnings(volume_from_array(data, affine)) == []
    aniso, a2 = _brain((100, 120, 25), (1.0, 1.0, 4.0))
    assert any("anisotropic" in w for w in quality_warnings(volume_from_array(aniso, a2)))
    assert any("field of view" in w for w in quality_warnings(volume_from_array(*_brain((40, 40, 40)))))
    noisy = data + 5.0 + np.random.default_rng(0).random(data.shape).astype(np.float32)
    assert any("skull-stripped" in w for w in quality_warnings(volume_from_array(noisy, affine)))
    assert any("negative" in w for w in quality_warnings(volume_from_array(data - 50, affine)))
    rot = affine.copy()
    t = np.radians(15)
    rot[:3, :3] = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    img = nib.Nifti1Image(data, rot)
    nib.save(img, tmp_path / "oblique.nii.gz")
    assert any("oblique" in w for w in quality_warnings(load_volume(tmp_path / "oblique.nii.gz")))
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=2)
    shifted = affine.copy()
    shifted[0, 3] += 5
    img.set_qform(shifted, code=1)
    nib.save(img, tmp_path / "disagree.nii.gz")
    assert any("qform and sform disagree" in w for w in quality_warnings(load_volume(tmp_path / "disagree.nii.gz")))
