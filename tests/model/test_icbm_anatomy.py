"""Training anatomy from the ICBM152 2009c tissue maps (model.simulation.icbm_anatomy).

A tiny synthetic set of probability maps (concentric spheres in MNI millimetres) runs everywhere;
the real template is read from ../shared/data and those tests skip when it is absent.
"""

import nibabel as nib
import numpy as np
import pytest
from conftest import SHARED_DATA

from model.simulation.icbm_anatomy import ICBM_FILES, ICV_ML_BY_WEEK, icbm_labels, icbm_pair
from model.simulation.phantom import BACKGROUND, CORTEX, CSF, DEEP_GM, VENTRICLES, WHITE_MATTER

ICBM = SHARED_DATA / "icbm152-2009c"
BRAIN_CODES = (CSF, CORTEX, WHITE_MATTER, VENTRICLES, 6, DEEP_GM)


@pytest.fixture(scope="module")
def spheres(tmp_path_factory):
    """Probability maps of a ball brain: CSF core (r < 8 mm), white matter to 30 mm, cortex to
    36 mm, CSF to 40 mm; 2 mm voxels centred on the MNI origin."""
    folder = tmp_path_factory.mktemp("tpm")
    n = 48
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = -(n - 1)
    r = np.sqrt(sum(((g - (n - 1) / 2) * 2.0) ** 2 for g in np.indices((n, n, n))))
    maps = {
        "2mm_brainmask": (r < 40).astype(np.uint8),
        "2mm_tpm_csf": ((r < 8) | ((r >= 36) & (r < 40))).astype(np.float32),
        "2mm_tpm_gm": ((r >= 30) & (r < 36)).astype(np.float32),
        "2mm_tpm_wm": ((r >= 8) & (r < 30)).astype(np.float32),
    }
    for name, data in maps.items():
        nib.save(nib.Nifti1Image(data, affine), folder / f"{name}.nii.gz")
    return folder


def _icv_ml(labels, spacing):
    return float(np.isin(labels, BRAIN_CODES).sum()) * spacing**3 / 1000.0


def test_ball_brain_gets_tissues_ventricles_a_shell_and_the_infant_volume(spheres):
    labels, spacing = icbm_labels(spheres, 40.0, np.random.default_rng(0))
    assert labels.dtype == np.uint8
    present = set(np.unique(labels).tolist())
    assert {0, CSF, CORTEX, WHITE_MATTER, VENTRICLES, BACKGROUND} <= present
    # the core CSF is deep inside the cerebrum: ventricles, not extra-cerebral CSF
    centre = tuple(s // 2 for s in labels.shape)
    assert labels[centre] == VENTRICLES
    # sized to the Serag intracranial volume at 40 weeks, times U(0.9, 1.1)
    assert 0.85 * ICV_ML_BY_WEEK[40] < _icv_ml(labels, spacing) < 1.15 * ICV_ML_BY_WEEK[40]
    # the skull shell lies outside the CSF rim, never next to the brain tissue
    shell = labels == BACKGROUND
    assert shell.any()
    from scipy import ndimage as ndi

    assert not (ndi.binary_dilation(shell) & np.isin(labels, (CORTEX, WHITE_MATTER))).any()


def test_younger_infants_are_smaller(spheres):
    young, sp_young = icbm_labels(spheres, 28.0, np.random.default_rng(1))
    term, sp_term = icbm_labels(spheres, 42.0, np.random.default_rng(1))
    assert _icv_ml(young, sp_young) < 0.5 * _icv_ml(term, sp_term)
    assert (young == VENTRICLES).any()  # smoothing the maps must not close the ventricles


def test_pair_is_seeded_and_differs_only_inside_its_injury(spheres):
    a, b = icbm_pair(3, spheres), icbm_pair(3, spheres)
    np.testing.assert_array_equal(a.injured, b.injured)
    assert a.pma_weeks == b.pma_weeks and a.findings == b.findings and a.seed == 3
    assert a.injury_mask.any()
    np.testing.assert_array_equal(a.injury_mask, a.normal != a.injured)
    other = icbm_pair(4, spheres)
    assert other.pma_weeks != a.pma_weeks


def test_missing_file_is_named(tmp_path, spheres):
    for name in ICBM_FILES[1:]:
        (tmp_path / f"{name}.nii.gz").write_bytes((spheres / f"{name}.nii.gz").read_bytes())
    with pytest.raises(FileNotFoundError, match="2mm_brainmask.nii.gz: not found"):
        icbm_labels(tmp_path, 40.0, np.random.default_rng(0))


def test_trainer_checks_the_icbm_flags(tmp_path):
    from model.training.synth_train import SynthTrainer, build_parser

    p = build_parser()
    assert p.parse_args(["--out", "x"]).icbm_subjects == 0
    with pytest.raises(ValueError, match="--icbm-subjects needs --icbm DIR"):
        SynthTrainer(p.parse_args(["--out", "x", "--icbm-subjects", "2"]), [])
    with pytest.raises(ValueError, match="not an ICBM152 2009c folder .missing 2mm_brainmask.nii.gz"):
        SynthTrainer(p.parse_args(["--out", "x", "--icbm-subjects", "2", "--icbm", str(tmp_path)]), [])


def test_bank_files_round_trip_with_their_seed(tmp_path, spheres):
    from model.training.synth_bank import bank_file, build_bank, load_pair

    build_bank(tmp_path, [11], processes=1, icbm=spheres)
    path = bank_file(tmp_path, 11, icbm=True)
    assert path.name == "icbm-11.npz"
    pair, direct = load_pair(path), icbm_pair(11, spheres)
    assert pair.seed == 11
    np.testing.assert_array_equal(pair.normal, direct.normal)
    np.testing.assert_array_equal(pair.injured, direct.injured)
    assert pair.spacing_mm == pytest.approx(direct.spacing_mm)


@pytest.fixture(scope="module")
def icbm():
    if not all((ICBM / f"{n}.nii.gz").is_file() for n in ICBM_FILES):
        pytest.skip(f"ICBM152 2009c maps not available in {ICBM} (../shared/data is absent)")
    return ICBM


@pytest.mark.parametrize("week", [28.0, 36.0, 44.0])
def test_real_template_gets_infant_proportions(icbm, week):
    """On the real adult maps: every tissue present, ventricles 1-4 % and deep grey matter 1-5 % of
    the intracranial volume (Serag templates: 1.8-2.6 % and about 7 %), cortex below half of it."""
    labels, spacing = icbm_labels(icbm, week, np.random.default_rng(int(week)))
    icv = np.isin(labels, BRAIN_CODES).sum()
    frac = {code: (labels == code).sum() / icv for code in BRAIN_CODES}
    assert 0.01 < frac[VENTRICLES] < 0.04
    assert 0.01 < frac[DEEP_GM] < 0.05
    assert 0.2 < frac[CORTEX] < 0.5 and 0.25 < frac[WHITE_MATTER] < 0.5
    w = int(week)
    assert 0.85 * ICV_ML_BY_WEEK[w] < _icv_ml(labels, spacing) < 1.15 * ICV_ML_BY_WEEK[w]
