"""Injuries in real anatomy: non-empty masks, the image changes only inside the mask, seeded; the
degraded copies keep the mask on the image; the command writes a manifest and never overwrites."""

import csv

import nibabel as nib
import numpy as np
import pytest

from model.simulation.phantom import make_phantom
from model.simulation.real_anatomy import INJURIES, Anatomy, degrade, insert_injuries, load_anatomy, main
from model.volume import load_volume
from tests.conftest import SERAG, serag_path


@pytest.fixture(scope="module")
def phantom_anatomy():
    """The phantom's T2 and dHCP-coded labels stand in for a template (no ../shared needed)."""
    ph = make_phantom(4, False, spacing_mm=1.2)
    return Anatomy(t2=ph.t2, labels=ph.labels, affine=ph.affine, name="phantom")


@pytest.mark.parametrize("kind", INJURIES)
def test_each_injury_has_a_mask_and_changes_the_image_only_inside_it(phantom_anatomy, kind):
    out = insert_injuries(phantom_anatomy, np.random.default_rng(0), (kind,))
    assert out.mask.sum() > 5, kind
    assert np.array_equal(out.t2[~out.mask], phantom_anatomy.t2[~out.mask])
    assert np.abs(out.t2[out.mask] - phantom_anatomy.t2[out.mask]).mean() > 0.02 * phantom_anatomy.t2.max()


def test_injuries_are_seeded(phantom_anatomy):
    a = insert_injuries(phantom_anatomy, np.random.default_rng(3))
    b = insert_injuries(phantom_anatomy, np.random.default_rng(3))
    c = insert_injuries(phantom_anatomy, np.random.default_rng(4))
    assert np.array_equal(a.t2, b.t2) and np.array_equal(a.mask, b.mask) and a.findings == b.findings
    assert not np.array_equal(a.t2, c.t2)


def test_real_template_dark_lesions_and_bright_cysts():
    serag_path("tissue-labels", 40)  # skips when ../shared/data is absent
    anatomy = load_anatomy(SERAG, 40)
    dots = insert_injuries(anatomy, np.random.default_rng(1), ("punctate_lesions",))
    cysts = insert_injuries(anatomy, np.random.default_rng(1), ("cysts",))
    assert np.median(dots.t2[dots.mask]) < np.median(anatomy.t2[dots.mask])  # T2-dark
    assert np.median(cysts.t2[cysts.mask]) > np.median(anatomy.t2[cysts.mask])  # T2-bright
    assert np.array_equal(dots.t2[~dots.mask], anatomy.t2[~dots.mask])


@pytest.mark.parametrize("kind", ["resample_1x1x2", "voxel_order"])
def test_degraded_copies_keep_the_mask_on_the_same_anatomy(phantom_anatomy, kind):
    inj = insert_injuries(phantom_anatomy, np.random.default_rng(0), ("cysts",))
    t2, mask, affine, orient = degrade(inj.t2, inj.mask, phantom_anatomy.affine, kind, np.random.default_rng(0))
    assert t2.shape == mask.shape and mask.any()
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    if kind == "resample_1x1x2":
        assert np.allclose(sorted(spacing), [1.0, 1.0, 2.0], atol=0.05)
    # the cysts' centre of mass is at the same world position before and after
    before = phantom_anatomy.affine @ np.r_[np.argwhere(inj.mask).mean(0), 1]
    after = affine @ np.r_[np.argwhere(mask).mean(0), 1]
    assert np.allclose(before[:3], after[:3], atol=1.5)


def test_command_writes_images_masks_and_manifest_and_never_overwrites(tmp_path, capsys):
    serag_path("tissue-labels", 30)
    out = tmp_path / "set"
    assert main(["--serag", str(SERAG), "--out", str(out), "--n-injured", "2", "--weeks", "30", "--seed", "0"]) == 0
    rows = list(csv.DictReader(open(out / "manifest.csv")))
    assert [r["label"] for r in rows].count("1") == 2 and [r["label"] for r in rows].count("0") == 6
    for r in rows:
        vol = load_volume(out / r["path"], compute_hash=False)
        if r["mask"]:
            mask = load_volume(out / r["mask"], compute_hash=False)
            assert mask.shape == vol.shape and np.allclose(mask.affine, vol.affine) and mask.data.max() == 1
    orders = {nib.aff2axcodes(nib.load(out / r["path"]).affine) for r in rows}
    assert len(orders) >= 2  # the voxel-order copy is stored differently
    assert main(["--serag", str(SERAG), "--out", str(out), "--n-injured", "2", "--weeks", "30"]) == 2
    assert "never overwritten" in capsys.readouterr().err
