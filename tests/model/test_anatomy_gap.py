"""The anatomy-gap measure: real-anatomy-mode injuries become generator label pairs that differ
exactly where the injury was drawn, with cysts and punctate lesions in their own render classes;
a missing template folder is a clear error, not a traceback."""

import nibabel as nib
import numpy as np
import pytest

from model.preprocessing import PreprocessConfig
from model.simulation.anatomy_gap import SETS, label_pair, main, measure, render_labels
from model.simulation.phantom import make_phantom
from model.simulation.real_anatomy import INJURIES, Anatomy, insert_injuries
from model.simulation.synth import CYST, PUNCTATE, PairRenderer


@pytest.fixture(scope="module")
def anatomy():
    ph = make_phantom(4, False, spacing_mm=1.2)
    labels = ph.labels.copy()
    # a Serag-style map: some white matter coded 8 and 9 (high/low intensity white matter)
    wm = np.argwhere(labels == 3)
    labels[tuple(wm[::3].T)] = 8
    labels[tuple(wm[1::7].T)] = 9
    return Anatomy(t2=ph.t2, labels=labels, affine=ph.affine, name="phantom")


def test_serag_white_matter_codes_fold_into_white_matter(anatomy):
    out = render_labels(anatomy.labels)
    assert not np.isin(out, (8, 9)).any()
    assert (out == 3).sum() == np.isin(anatomy.labels, (3, 8, 9)).sum()


@pytest.mark.parametrize("kind", INJURIES)
def test_label_pair_differs_exactly_where_the_injury_was_drawn(anatomy, kind):
    inj = insert_injuries(anatomy, np.random.default_rng(0), (kind,))
    pair = label_pair(anatomy.labels, inj, 1.2, 40.0)
    assert np.array_equal(pair.injury_mask, inj.mask), kind
    assert np.array_equal(pair.normal[~inj.mask], pair.injured[~inj.mask])
    if kind == "cysts":
        assert (pair.injured[inj.mask] == CYST).all()
    if kind == "punctate_lesions":
        assert (pair.injured[inj.mask] == PUNCTATE).all()
    if kind == "ventricular_dilatation":
        assert (pair.injured[inj.mask] == 5).all()


def test_label_pair_renders_as_an_injured_pair(anatomy):
    inj = insert_injuries(anatomy, np.random.default_rng(2), ("cysts", "punctate_lesions"))
    r = PairRenderer(PreprocessConfig(target_shape=(32,) * 3)).render(
        label_pair(anatomy.labels, inj, 1.2, 40.0), seed=5
    )
    assert r.y.tolist() == [0, 1]
    assert r.mask[1].sum() > 0 and r.mask[0].sum() == 0


def test_missing_templates_are_a_clear_error(tmp_path, capsys):
    rc = main(["--weights", "resources/weights/demo", "--serag", str(tmp_path), "--phantoms", "0"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "template-28.nii.gz: not found" in err


@pytest.mark.slow
def test_measure_scores_several_weights_on_the_same_renders(tmp_path):
    """End to end on a stand-in template folder (a phantom written in the Serag layout): two
    copies of the shipped weights get identical results, with every set scored."""
    ph = make_phantom(9, False, pma_weeks=40.0, spacing_mm=1.2)
    for sub, data in (("T2", ph.t2.astype(np.float32)), ("tissue-labels", ph.labels.astype(np.uint8))):
        (tmp_path / sub).mkdir()
        nib.save(nib.Nifti1Image(data, ph.affine), tmp_path / sub / "template-40.nii.gz")
    res = measure(
        ["resources/weights/demo", "resources/weights/demo"],
        tmp_path,
        per_template=1,
        phantoms=1,
        weeks=(40,),
        log=lambda m: None,
    )
    a, b = res["results"]
    assert a == b
    for name in SETS:
        assert a[name]["n_pairs"] == 1
        assert 0.0 <= a[name]["median_p_normal"] <= 1.0
