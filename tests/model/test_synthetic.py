"""Tests of the simulated neonatal T2 phantom (model.simulation.phantom): anatomy, injuries, files, CLI.

Phantoms are made at 1.6 mm (about 63 x 85 x 68 voxels) unless the full grid is the point.
"""

import csv
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from model.simulation import cohort
from model.simulation import phantom as synthetic
from model.simulation.cohort import write_cohort
from model.simulation.phantom import (
    BACKGROUND,
    CEREBELLUM_BRAINSTEM,
    CORTEX,
    CSF,
    DEEP_GM,
    VENTRICLES,
    WHITE_MATTER,
    make_phantom,
    sample_image,
    to_nifti,
)
from model.simulation.phantom.anatomy import _draw_subject
from model.simulation.phantom.injuries import _draw_injury
from model.volume import load_volume

ROOT = Path(__file__).resolve().parents[2]
COARSE_MM = 1.6


@lru_cache(maxsize=None)
def coarse(seed: int, injured: bool, pma_weeks=None):
    """Cached 1.6 mm phantom (tests must not modify its arrays)."""
    return make_phantom(seed, injured, pma_weeks=pma_weeks, spacing_mm=COARSE_MM)


def brain(ph) -> np.ndarray:
    return (ph.labels != 0) & (ph.labels != BACKGROUND)


def world_centroid(ph, mask) -> np.ndarray:
    ijk = np.argwhere(mask).mean(axis=0)
    return ph.affine[:3, :3] @ ijk + ph.affine[:3, 3]


# --- make_phantom -----------------------------------------------------------------------------------
def test_types_shapes_and_grid():
    ph = coarse(0, False)
    assert ph.t2.dtype == np.float32 and ph.labels.dtype == np.uint8 and ph.injury_mask.dtype == bool
    assert ph.t2.shape == ph.labels.shape == ph.injury_mask.shape == (63, 85, 68)
    assert ph.affine.shape == (4, 4) and ph.affine.dtype == np.float64
    np.testing.assert_allclose(ph.spacing_mm, [COARSE_MM] * 3)
    assert nib.aff2axcodes(ph.affine) == ("R", "A", "S")
    # world origin at the grid centre
    centre = ph.affine[:3, :3] @ ((np.array(ph.shape) - 1) / 2) + ph.affine[:3, 3]
    np.testing.assert_allclose(centre, 0, atol=1e-9)
    assert set(np.unique(ph.labels)) <= set(range(8))
    assert 28.0 <= ph.pma_weeks <= 44.0
    assert set(ph.findings) == set(synthetic.FINDING_KEYS)


def test_default_grid_is_template_like():
    ph = make_phantom(5, False, pma_weeks=44.0)
    assert ph.shape == synthetic.DEFAULT_SHAPE
    np.testing.assert_allclose(ph.spacing_mm, [0.86] * 3)
    # even a 44-week brain stays inside the field of view (no brain voxel on a grid face)
    b = brain(ph)
    for axis in range(3):
        assert not np.take(b, 0, axis=axis).any() and not np.take(b, -1, axis=axis).any()


def test_anisotropic_spacing_keeps_field_of_view():
    ph = make_phantom(1, False, spacing_mm=(1.6, 2.0, 2.4))
    np.testing.assert_allclose(ph.spacing_mm, [1.6, 2.0, 2.4])
    expected = [round(f / s) for f, s in zip(synthetic.FIELD_OF_VIEW_MM, (1.6, 2.0, 2.4))]
    assert list(ph.shape) == expected


def test_same_seed_gives_identical_bytes():
    a = make_phantom(11, True, spacing_mm=COARSE_MM)
    b = make_phantom(11, True, spacing_mm=COARSE_MM)
    assert a.t2.tobytes() == b.t2.tobytes()
    assert a.labels.tobytes() == b.labels.tobytes()
    assert a.injury_mask.tobytes() == b.injury_mask.tobytes()
    assert a.findings == b.findings and a.pma_weeks == b.pma_weeks


def test_different_seeds_differ():
    a, b = coarse(0, False), coarse(1, False)
    assert a.pma_weeks != b.pma_weeks
    assert not np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.t2, b.t2)


def test_given_pma_is_used_and_sizes_grow_with_age():
    young, term = coarse(2, False, 28.0), coarse(2, False, 40.0)
    assert young.pma_weeks == 28.0 and term.pma_weeks == 40.0
    ratio = brain(young).sum() / brain(term).sum()
    assert 0.3 < ratio < 0.6  # linear size about x0.75 -> volume about x0.42


def test_normal_contrast_is_neonatal_t2():
    for seed in (0, 3):
        ph = coarse(seed, False)
        mean = {k: float(ph.t2[ph.labels == k].mean()) for k in (CSF, CORTEX, WHITE_MATTER, VENTRICLES, DEEP_GM)}
        assert mean[VENTRICLES] > mean[WHITE_MATTER] > mean[CORTEX]
        assert mean[CSF] > mean[WHITE_MATTER]
        assert mean[WHITE_MATTER] > mean[DEEP_GM]
        outside = ~brain(ph)
        assert np.all(ph.t2[outside] == 0)
        assert np.all(ph.t2[brain(ph)] > 0)
        assert (ph.labels == BACKGROUND).any()  # a non-brain shell inside the head


def test_anatomy_is_where_it_belongs():
    ph = coarse(4, False, 40.0)
    centre = world_centroid(ph, brain(ph))
    cerebellum = world_centroid(ph, ph.labels == CEREBELLUM_BRAINSTEM)
    assert cerebellum[1] < centre[1] - 10 and cerebellum[2] < centre[2] - 10  # posterior, inferior
    ventricles = world_centroid(ph, ph.labels == VENTRICLES)
    assert abs(ventricles[0] - centre[0]) < 5  # one on each side of the midline
    left = (ph.labels == VENTRICLES) & (np.arange(ph.shape[0])[:, None, None] < ph.shape[0] // 2)
    right = (ph.labels == VENTRICLES) & ~left
    assert left.sum() > 0 and right.sum() > 0
    # the interhemispheric fissure: above the ventricles, more CSF at the midline than off it
    top = int(np.argwhere(ph.labels == VENTRICLES)[:, 2].mean()) + 3

    def csf_fraction(x0):
        slab = (slice(x0 - 1, x0 + 2), slice(None), slice(top, None))
        return float((ph.labels[slab][brain(ph)[slab]] == CSF).mean())

    mid = ph.shape[0] // 2
    assert csf_fraction(mid) > 1.5 * max(csf_fraction(mid - 10), csf_fraction(mid + 10))


def test_injury_mask_non_empty_iff_injured_and_inside_brain():
    for seed in range(4):
        normal, injured = coarse(seed, False), coarse(seed, True)
        assert not normal.injury_mask.any()
        assert injured.injury_mask.any(), injured.findings
        assert brain(injured)[injured.injury_mask].all()
        f = injured.findings
        assert f["ventricular_dilatation"] > 1.0 or f["wm_loss"] > 0 or f["cysts"] > 0 or f["punctate_lesions"] > 0
        assert normal.findings == {"ventricular_dilatation": 1.0, "cysts": 0, "punctate_lesions": 0, "wm_loss": 0.0}


def test_injury_draw_includes_single_subtle_findings():
    """About a third of injured infants carry one finding at the mild end; the rest keep the full
    ranges, so the generator teaches that one small lesion is already an injury."""
    subj = _draw_subject(np.random.default_rng(0), 36.0)
    draws = [_draw_injury(np.random.default_rng(s), subj) for s in range(600)]
    subtle = [d for d in draws if d.subtle]
    full = [d for d in draws if not d.subtle]
    assert 0.27 < len(subtle) / len(draws) < 0.40

    def kinds(d):
        return [d.dilatation > 1.0 + d.wm_loss + 1e-9, d.wm_loss > 0, bool(d.cysts), bool(d.punctate)]

    assert all(sum(kinds(d)) == 1 for d in subtle)
    assert np.mean([sum(kinds(d)) for d in full]) > 1.9  # Bernoulli(0.5) per kind, at least one
    counts = np.sum([kinds(d) for d in subtle], axis=0)
    assert counts.min() > 0.15 * len(subtle)  # every kind appears as a subtle single finding
    r = synthetic.SUBTLE_RANGES
    for d in subtle:
        if d.wm_loss:
            assert r["wm_loss"][0] <= d.wm_loss <= r["wm_loss"][1]
        elif d.dilatation > 1.0:
            assert r["ventricular_dilatation"][0] <= d.dilatation <= r["ventricular_dilatation"][1]
        assert 1 <= len(d.cysts) <= 2 or not d.cysts
        assert 1 <= len(d.punctate) <= 4 or not d.punctate
        assert all(r["cyst_radius_mm"][0] <= rad <= r["cyst_radius_mm"][1] for _, rad in d.cysts)
        assert all(r["punctate_radius_mm"][0] <= rad <= r["punctate_radius_mm"][1] for _, rad in d.punctate)
        assert all(rad >= 1.5 for _, rad in d.punctate)  # at least 3 mm across
    # the full draw still reaches severe injury, beyond every subtle range
    assert max(d.dilatation for d in full) > 2.0 and max(len(d.punctate) for d in full) > 6


def test_injured_twin_is_the_same_infant_with_injuries_added():
    checked = 0
    for seed in range(4):
        normal, injured = coarse(seed, False), coarse(seed, True)
        assert normal.pma_weeks == injured.pma_weeks
        np.testing.assert_array_equal(normal.affine, injured.affine)
        if injured.findings["wm_loss"] == 0:  # volume loss moves the cortex; the rest only adds
            outside = ~injured.injury_mask
            np.testing.assert_array_equal(normal.labels[outside], injured.labels[outside])
            checked += 1
    assert checked > 0


def test_injured_ventricles_are_larger_on_average():
    seeds = range(6)
    normal = [int((coarse(s, False).labels == VENTRICLES).sum()) for s in seeds]
    injured = [int((coarse(s, True).labels == VENTRICLES).sum()) for s in seeds]
    assert all(i >= n for i, n in zip(injured, normal))
    assert np.mean(injured) > 1.2 * np.mean(normal)


def test_lesions_have_their_t2_appearance():
    """Cysts are bright (CSF-like), punctate lesions dark, relative to the white matter around."""
    cyst_seen = punct_seen = False
    for seed in range(12):
        ph = coarse(seed, True)
        wm = float(np.median(ph.t2[(ph.labels == WHITE_MATTER) & ~ph.injury_mask]))
        lesion_wm = ph.injury_mask & (ph.labels == WHITE_MATTER)  # punctate lesions keep the WM label
        lesion_csf = ph.injury_mask & (ph.labels == CSF)
        if ph.findings["punctate_lesions"] and ph.findings["wm_loss"] == 0:
            assert float(ph.t2[lesion_wm].mean()) < 0.9 * wm
            punct_seen = True
        if ph.findings["cysts"] and ph.findings["wm_loss"] == 0:
            assert float(ph.t2[lesion_csf].mean()) > 1.1 * wm
            cyst_seen = True
        if cyst_seen and punct_seen:
            break
    assert cyst_seen and punct_seen


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": -1, "injured": False},
        {"seed": 0, "injured": False, "pma_weeks": 50.0},
        {"seed": 0, "injured": False, "spacing_mm": 0.0},
        {"seed": 0, "injured": False, "shape": (4, 50, 50)},
    ],
)
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        make_phantom(**kwargs)


# --- NIfTI ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("orientation", ["RAS", "LAS", "LPS", "PSR", "ASL", "IRP"])
def test_to_nifti_round_trips_through_closest_canonical(orientation):
    ph = coarse(6, True)
    img = to_nifti(ph, orientation)
    assert nib.aff2axcodes(img.affine) == tuple(orientation)
    assert img.get_data_dtype() == np.float32
    assert int(img.header["qform_code"]) == 1 and int(img.header["sform_code"]) == 1
    np.testing.assert_allclose(img.get_qform(), img.affine, atol=1e-6)
    canonical = nib.as_closest_canonical(img)
    np.testing.assert_array_equal(np.asarray(canonical.dataobj), ph.t2)
    np.testing.assert_allclose(canonical.affine, ph.affine, atol=1e-6)
    mask = nib.as_closest_canonical(to_nifti(ph, orientation, what="injury_mask"))
    np.testing.assert_array_equal(np.asarray(mask.dataobj).astype(bool), ph.injury_mask)
    np.testing.assert_allclose(mask.affine, ph.affine, atol=1e-6)


def test_to_nifti_int16_uses_scl_slope():
    ph = coarse(6, False)
    img = to_nifti(ph, "LPS", dtype=np.int16)
    assert img.get_data_dtype() == np.int16
    slope = float(img.dataobj.slope)
    assert 0 < slope < float(ph.t2.max()) / 1000
    back = nib.as_closest_canonical(img).get_fdata()
    assert np.abs(back - ph.t2).max() <= slope * 0.5001
    assert np.all(back[ph.t2 == 0] == 0)


@pytest.mark.parametrize("orientation", ["LLS", "RAX", "RA", ""])
def test_to_nifti_refuses_bad_orientation(orientation):
    with pytest.raises(ValueError):
        to_nifti(coarse(0, False), orientation)


def test_repo_loader_reads_the_phantom_back(tmp_path):
    ph = coarse(7, True)
    path = tmp_path / "phantom_psr.nii.gz"
    nib.save(to_nifti(ph, "PSR"), path)
    vol = load_volume(path)
    assert vol.header.axcodes == ("P", "S", "R")
    np.testing.assert_array_equal(vol.data, ph.t2)
    np.testing.assert_allclose(vol.affine, ph.affine, atol=1e-5)


def test_sample_image_is_a_term_las_float32_volume():
    img = sample_image()
    assert nib.aff2axcodes(img.affine) == ("L", "A", "S")
    assert img.get_data_dtype() == np.float32
    assert img.shape == synthetic.DEFAULT_SHAPE
    expected = make_phantom(7, False, pma_weeks=40.0)
    np.testing.assert_array_equal(np.asarray(nib.as_closest_canonical(img).dataobj), expected.t2)


# --- cohort -----------------------------------------------------------------------------------------
def read_rows(path, delimiter=","):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


def test_write_cohort_files_manifest_and_labels(tmp_path):
    out = tmp_path / "cohort"
    manifest = write_cohort(out, 5, seed=1, spacing_choices=(1.6, 2.0), orientations=("RAS", "LPS", "PSR"))
    assert manifest == out / "manifest.csv"
    with open(manifest, encoding="utf-8") as fh:
        assert fh.readline().strip() == "path,label,subject"
    rows = read_rows(manifest)
    assert len(rows) == 5
    assert sum(int(r["label"]) for r in rows) == round(0.45 * 5)
    participants = {r["participant_id"]: r for r in read_rows(out / "participants.tsv", "\t")}
    assert set(participants) == {r["subject"] for r in rows}
    for r in rows:
        t2_path = out / r["path"]
        sub = r["subject"]
        assert t2_path == out / sub / "ses-01" / "anat" / f"{sub}_ses-01_T2w.nii.gz"
        mask_path = out / "derivatives" / "injury" / sub / "ses-01" / "anat" / f"{sub}_ses-01_desc-injury_mask.nii.gz"
        t2, mask = nib.load(t2_path), nib.load(mask_path)
        assert t2.shape == mask.shape
        np.testing.assert_allclose(t2.affine, mask.affine)
        assert "".join(nib.aff2axcodes(t2.affine)) == participants[sub]["orientation"]
        assert float(participants[sub]["spacing_mm"]) in (1.6, 2.0)
        assert participants[sub]["label"] == r["label"]
        assert bool(np.asarray(mask.dataobj).any()) == (r["label"] == "1")
        assert (participants[sub]["findings"] == "none") == (r["label"] == "0")
    assert not list(out.rglob("*.tmp*"))  # no temporary files left behind


def test_write_cohort_subject_does_not_depend_on_cohort_size(tmp_path):
    kwargs = dict(seed=4, injured_fraction=0.0, spacing_choices=(2.0,), orientations=("LAS",))
    small = write_cohort(tmp_path / "a", 1, **kwargs)
    large = write_cohort(tmp_path / "b", 2, **kwargs)
    a = nib.load(small.parent / read_rows(small)[0]["path"])
    b = nib.load(large.parent / read_rows(large)[0]["path"])
    np.testing.assert_array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))


def test_write_cohort_sessions_share_a_subject(tmp_path):
    manifest = write_cohort(tmp_path / "c", 2, seed=2, injured_fraction=0.5, spacing_choices=(2.0,), sessions=2)
    rows = read_rows(manifest)
    assert len(rows) == 4
    by_subject = {}
    for r in rows:
        by_subject.setdefault(r["subject"], set()).add(r["label"])
    assert len(by_subject) == 2 and all(len(v) == 1 for v in by_subject.values())
    assert {v.pop() for v in by_subject.values()} == {"0", "1"}


def test_write_cohort_refuses_non_empty_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        write_cohort(tmp_path, 2, spacing_choices=(2.0,))
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    with pytest.raises(ValueError):
        write_cohort(tmp_path / "notes.txt", 2)
    with pytest.raises(ValueError):
        write_cohort(tmp_path / "new", 2, injured_fraction=1.5)


# --- command line -----------------------------------------------------------------------------------
def test_cli_sample_writes_a_loadable_file(tmp_path):
    out = tmp_path / "sample.nii.gz"
    proc = subprocess.run(
        [sys.executable, "-m", "model.simulation", "sample", str(out), "--seed", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1 and str(out) in proc.stdout
    vol = load_volume(out)
    assert vol.header.axcodes == ("L", "A", "S")
    assert vol.data.shape == synthetic.DEFAULT_SHAPE and vol.data.max() > 0


@pytest.mark.parametrize("argv", [[], ["sample"], ["sample", "out.txt"], ["cohort", "x", "--n", "0"], ["fly"]])
def test_cli_usage_errors_exit_2(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        cohort.main(argv)
    assert exc.value.code == 2
    assert not list(tmp_path.iterdir())


def test_cli_cohort_refuses_non_empty_folder(tmp_path, capsys):
    (tmp_path / "x").write_text("")
    with pytest.raises(SystemExit) as exc:
        cohort.main(["cohort", str(tmp_path), "--n", "2"])
    assert exc.value.code == 2
    assert "not empty" in capsys.readouterr().err
