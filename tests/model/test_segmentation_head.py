"""The segmentation decoder (issue 28): shapes, label table, card, TTA, training targets, metrics."""

import json

import nibabel as nib
import numpy as np
import pytest
import torch

from model.checkpoint import CheckpointError, load_weights, read_card
from model.inference import analyse, segmentation_capture, tta_segmentation
from model.network import RESNET10_PARAMETERS, resnet10
from model.preprocessing import PreprocessConfig
from model.seg_metrics import as_reference, lesion_detection, tissue_scores
from model.segmentation import (
    CHANNEL_VALUES,
    N_SEG_CLASSES,
    from_serag,
    label_table,
    render_fractions_to_channels,
    resample_probabilities,
)
from model.simulation.phantom import make_phantom, to_nifti
from model.volume import volume_from_image


def test_decoder_output_shape_and_classification_unchanged():
    torch.manual_seed(0)
    net = resnet10(seg_classes=N_SEG_CLASSES).eval()
    x = torch.randn(2, 1, 32, 40, 24)
    with torch.no_grad():
        logits, seg = net.forward_with_segmentation(x)
        plain = net(x)
    assert logits.shape == (2, 2)
    assert seg.shape == (2, N_SEG_CLASSES, 32, 40, 24)
    torch.testing.assert_close(logits, plain)
    # the encoder keeps MedicalNet's keys; the decoder lives under decoder.
    encoder = {k for k in net.state_dict() if not k.startswith("decoder.")}
    assert encoder == set(resnet10().state_dict())
    assert sum(p.numel() for n, p in net.named_parameters() if not n.startswith("decoder.")) == RESNET10_PARAMETERS


def test_decoder_widths_come_from_the_card_and_old_cards_get_the_first_decoders(seg_weights, tmp_path):
    import shutil

    from model.network import DEFAULT_WIDTHS, LEGACY_WIDTHS

    assert load_weights(seg_weights).model.decoder.widths == (8, 8, 8, 8, 8)
    assert resnet10(seg_classes=N_SEG_CLASSES).decoder.widths == DEFAULT_WIDTHS
    # a card written before widths were recorded (run seg1) is the first decoder's
    folder = tmp_path / "old"
    shutil.copytree(seg_weights, folder)
    d = json.loads((folder / "model_card.json").read_text())
    del d["segmentation"]["widths"]
    (folder / "model_card.json").write_text(json.dumps(d))
    assert read_card(folder).seg_widths == LEGACY_WIDTHS
    with pytest.raises(CheckpointError, match="do not fit|shape"):
        load_weights(folder)  # these weights are 8-wide, not the legacy widths: refused, not misread
    with pytest.raises(ValueError, match="5 positive"):
        resnet10(seg_classes=N_SEG_CLASSES, seg_widths=(8, 8))


def test_network_without_decoder_refuses_segmentation():
    with pytest.raises(RuntimeError, match="no segmentation decoder"):
        resnet10().forward_with_segmentation(torch.zeros(1, 1, 16, 16, 16))


def test_label_table_follows_draw_em_with_injuries_above_nine():
    table = label_table()
    values = [row["value"] for row in table["labels"]]
    assert values == [0, 1, 2, 3, 4, 5, 6, 7, 10, 11]
    names = {row["value"]: row["name"] for row in table["labels"]}
    assert names[5] == "ventricles" and names[10] == "cyst" and "punctate" in names[11]
    assert "6" in table["merged"] and "7" in table["merged"]
    # Serag 8/9 (high/low-intensity white matter) become white matter, 6 stays cerebellum + brainstem
    assert from_serag(np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 3, 3]
    with pytest.raises(ValueError, match="0-9"):
        from_serag(np.array([12]))


def test_render_fractions_collapse_sub_classes_and_sum_to_one():
    rng = np.random.default_rng(0)
    f = torch.from_numpy(rng.dirichlet(np.ones(14), size=(2, 3, 3, 3)).astype(np.float32)).permute(0, 4, 1, 2, 3)
    out = render_fractions_to_channels(f)
    assert out.shape == (2, N_SEG_CLASSES, 3, 3, 3)
    torch.testing.assert_close(out.sum(1), torch.ones(2, 3, 3, 3))
    # white matter = render 3 + its sub-class 13; cysts (render 8) -> channel 8 (label 10)
    torch.testing.assert_close(out[:, 3], f[:, 3] + f[:, 13])
    torch.testing.assert_close(out[:, 8], f[:, 8])
    assert CHANNEL_VALUES[8] == 10


def test_renderer_gives_soft_targets_that_match_its_label_maps():
    from model.simulation.synth import PairRenderer, anatomy_pair

    pair = anatomy_pair(3, spacing_mm=3.0)
    r = PairRenderer(PreprocessConfig(target_shape=(24, 24, 24))).render(pair, 1)
    assert r.seg is not None and r.seg.shape == (2, N_SEG_CLASSES, 24, 24, 24)
    torch.testing.assert_close(r.seg.float().sum(1), torch.ones(2, 24, 24, 24), atol=2e-3, rtol=0)
    # the injured render holds injury classes only if it was labelled injured
    lesions = r.seg[1, 8:].float().sum().item()
    assert r.seg[0, 8:].float().sum().item() == 0.0
    assert (lesions > 0) or r.y[1] == 0 or pair.findings


def test_tta_segmentation_flips_the_second_pass_back():
    torch.manual_seed(0)
    a = torch.randn(1, N_SEG_CLASSES, 6, 5, 4)
    mirrored = torch.flip(a, dims=(2,))
    probs = tta_segmentation([a, mirrored])
    torch.testing.assert_close(probs, torch.softmax(a[0], 0))


def test_capture_collects_nothing_without_a_decoder():
    net = resnet10().eval()
    with segmentation_capture(net) as got, torch.no_grad():
        net(torch.zeros(1, 1, 16, 16, 16))
    assert got == [] and tta_segmentation(got) is None


def test_probabilities_map_back_into_the_crop_box():
    probs = torch.zeros(N_SEG_CLASSES, 4, 4, 4)
    probs[5] = 1.0  # ventricles everywhere on the network grid
    box = (slice(2, 6), slice(1, 9), slice(0, 5))
    labels, conf = resample_probabilities(probs, box, (10, 10, 10))
    assert labels.dtype == np.uint8 and labels.shape == (10, 10, 10)
    assert (labels[box] == 5).all() and labels.sum() == 5 * 4 * 8 * 5
    assert conf.dtype == np.float16 and float(conf.min()) == 1.0


def test_card_round_trip_with_the_head(seg_weights):
    card = read_card(seg_weights)
    assert card.seg_classes == N_SEG_CLASSES
    assert card.segmentation["labels"] == label_table()
    loaded = load_weights(seg_weights)
    assert loaded.model.decoder is not None


def test_card_with_a_foreign_label_table_is_refused(seg_weights, tmp_path):
    import shutil

    folder = tmp_path / "w"
    shutil.copytree(seg_weights, folder)
    d = json.loads((folder / "model_card.json").read_text())
    d["segmentation"]["labels"]["labels"][5]["name"] = "lateral ventricles only"
    (folder / "model_card.json").write_text(json.dumps(d))
    with pytest.raises(CheckpointError, match="label table"):
        read_card(folder)


def _phantom_volume():
    ph = make_phantom(5, True, spacing_mm=2.0)
    return volume_from_image(to_nifti(ph, "LAS"), "phantom.nii.gz"), ph


def test_analysis_with_the_head_gives_a_label_map_on_the_input_grid(seg_weights):
    vol, _ = _phantom_volume()
    result = analyse(vol, load_weights(seg_weights), with_cam=True, pma_weeks=40.0, pma_source="test")
    assert result.has_segmentation
    assert result.labels.shape == vol.shape and result.labels.dtype == np.uint8
    assert set(np.unique(result.labels)) <= set(CHANNEL_VALUES.tolist())
    assert result.label_confidence.shape == vol.shape
    d = result.to_dict()
    assert d["segmentation"] == "available" and "measurements" in d and "findings" in d
    assert d["pma_weeks"] == 40.0
    # the no-Grad-CAM path gives the same segmentation from the same two passes
    plain = analyse(vol, load_weights(seg_weights), with_cam=False)
    assert (plain.labels == result.labels).mean() > 0.999


def test_weights_without_the_head_still_run_and_say_so(small_weights):
    vol, _ = _phantom_volume()
    result = analyse(vol, load_weights(small_weights), with_cam=False)
    assert not result.has_segmentation and result.report is None
    assert result.to_dict()["segmentation"].startswith("not available with these weights")
    assert 0.0 <= result.probability <= 1.0


def test_tissue_scores_through_an_anisotropic_affine():
    ref = np.zeros((20, 20, 10), np.uint8)
    ref[5:15, 5:15, 2:8] = 5  # 600 voxels
    pred = ref.copy()
    pred[5:10, 5:15, 2:8] = 3  # half of it lost to white matter
    affine = np.diag([0.5, 0.8, 2.0, 1.0])  # 0.8 mm^3 per voxel
    s = tissue_scores(pred, ref, affine)
    v = s["5"]
    assert v["dice"] == pytest.approx(2 * 300 / (300 + 600))
    assert v["volume_ref_ml"] == pytest.approx(600 * 0.8 / 1000)
    assert v["volume_error_pct"] == pytest.approx(-50.0)
    assert v["hd95_mm"] > 0
    assert s["2"]["dice"] is None  # absent from both


def test_lesion_detection_counts_lesions_and_false_positives():
    ref = np.zeros((30, 30, 30), np.uint8)
    ref[3:6, 3:6, 3:6] = 10
    ref[20:23, 20:23, 20:23] = 10
    ref[10:12, 10:12, 10:12] = 11
    pred = np.zeros_like(ref)
    pred[4, 4, 4] = 10  # finds the first cyst
    pred[25:27, 2:4, 2:4] = 10  # a false cyst
    pred[10:12, 10:12, 10:12] = 11
    d = lesion_detection(pred, ref)
    assert d["10"] == {"name": "cyst", "reference_lesions": 2, "detected": 1, "false_positives": 1}
    assert d["11"]["detected"] == 1 and d["11"]["false_positives"] == 0


def test_draw_em_template_maps_are_recognised_as_references():
    serag = np.array([[[0, 8, 9, 6]]])
    assert as_reference(serag).tolist() == [[[0, 3, 3, 6]]]
    ours = np.array([[[0, 3, 10, 11]]])
    assert as_reference(ours).tolist() == [[[0, 3, 10, 11]]]


def test_evaluate_segmentation_end_to_end(seg_weights, tmp_path):
    from model.evaluate import main

    root = tmp_path / "set"
    root.mkdir()
    rows = []
    for i, injured in enumerate([False, True]):
        ph = make_phantom(30 + i, injured, spacing_mm=2.5)
        nib.save(to_nifti(ph, "LAS"), root / f"c{i}.nii.gz")
        nib.save(to_nifti(ph, "LAS", dtype=np.uint8, what="labels"), root / f"c{i}_seg.nii.gz")
        rows.append(f"c{i}.nii.gz,{int(injured)},s{i},c{i}_seg.nii.gz,40")
    (root / "manifest.csv").write_text("path,label,subject,seg,pma_weeks\n" + "\n".join(rows) + "\n")
    out = tmp_path / "eval"
    rc = main(
        ["--weights", str(seg_weights), "--manifest", str(root / "manifest.csv"), "--segmentation"]
        + ["--out", str(out), "--n-boot", "20", "--device", "cpu"]
    )
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    seg = metrics["segmentation"]
    assert seg["n_scans"] == 2
    assert set(seg["all_with_reference"]) == {"1", "2", "3", "5", "6", "7"}
    assert seg["clean_normal"]["n"] == 1
    assert "false_positives_per_normal_scan" in seg["lesions"]["10"]
    rows = (out / "segmentation.csv").read_text().splitlines()
    assert rows[0].startswith("path,label,degradation,value,name,dice")
    assert len(rows) == 1 + 2 * (6 + 2)
    assert "Segmentation against the reference label maps" in (out / "summary.md").read_text()


def test_evaluate_segmentation_refuses_weights_without_a_decoder(small_weights, tmp_path, capsys):
    from model.evaluate import main

    (tmp_path / "m.csv").write_text("path,label,seg\na.nii.gz,0,a_seg.nii.gz\n")
    rc = main(
        ["--weights", str(small_weights), "--manifest", str(tmp_path / "m.csv"), "--segmentation"]
        + ["--out", str(tmp_path / "o")]
    )
    assert rc == 2
    assert "segmentation decoder" in capsys.readouterr().err


def test_real_anatomy_set_writes_reference_label_maps(tmp_path):
    from model.simulation.real_anatomy import Anatomy, follow_geometry, insert_injuries

    labels = np.zeros((40, 40, 40), np.uint8)
    labels[8:32, 8:32, 8:32] = 3
    labels[18:22, 12:28, 16:24] = 5
    labels[6:34, 6:34, 6:8] = 2
    t2 = np.where(labels == 5, 1.0, np.where(labels == 3, 0.6, 0.3)).astype(np.float32)
    anatomy = Anatomy(t2=t2, labels=labels, affine=np.diag([0.8, 0.8, 0.8, 1.0]))
    inj = insert_injuries(anatomy, np.random.default_rng(1), kinds=("cysts", "punctate_lesions"))
    assert inj.seg is not None and inj.seg.dtype == np.uint8
    assert (inj.seg == 10).any() or (inj.seg == 11).any()
    assert ((inj.seg == 10) | (inj.seg == 11)).sum() <= inj.mask.sum()
    resampled = follow_geometry(inj.seg, anatomy.affine, "resample_1x1x2", "RAS")
    assert resampled.shape == (32, 32, 16)
