"""Weights folder round trip, every mismatch refused, MedicalNet encoder import."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from model.checkpoint import (
    CARD_FILE,
    WEIGHTS_FILE,
    load_medicalnet_encoder,
    load_weights,
    new_card,
    read_card,
    save_weights,
)
from model.errors import CheckpointError
from model.network import encoder_keys, resnet10
from model.preprocessing import PreprocessConfig


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(3)
    model = resnet10()
    folder = save_weights(
        tmp_path / "w",
        model,
        new_card("t", "1.2.3", PreprocessConfig(target_shape=(64, 64, 64)), demonstration=True, decision_threshold=0.4),
    )
    return folder, model


def test_round_trip_gives_identical_tensors_and_card(saved):
    folder, model = saved
    loaded = load_weights(folder)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[k], v)
    card = loaded.card
    assert card.preprocessing.target_shape == (64, 64, 64)
    assert card.decision_threshold == 0.4 and card.demonstration is True
    assert card.gradcam_layer == "layer4" and card.classes == ["normal", "injury"]
    assert len(card.weights_sha256) == 64 and "torch" in card.library_versions
    assert not loaded.model.training
    assert sorted(p.name for p in folder.iterdir()) == [WEIGHTS_FILE, CARD_FILE]


def _edit_card(folder, **changes):
    path = folder / CARD_FILE
    d = json.loads(path.read_text())
    for key, value in changes.items():
        if value is KeyError:
            d.pop(key)
        else:
            d[key] = value
    path.write_text(json.dumps(d))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"weights_sha256": "0" * 64}, "does not match the model card"),
        ({"architecture": "resnet50"}, "unknown architecture"),
        ({"classes": ["injury", "normal"]}, "classes must be"),
        ({"decision_threshold": 1.5}, "decision_threshold"),
        ({"gradcam_layer": "layer9"}, "Grad-CAM layer"),
        ({"preprocessing": {"target_shape": [128, 128, 128]}}, "preprocessing"),
        (
            {"preprocessing": {**PreprocessConfig().to_dict(), "align_corners": True, "interpolation": "cubic"}},
            "interpolation",
        ),
        ({"format_version": 99}, "format"),
        ({"intended_use": KeyError}, "lacks required field"),
        ({"surprise": 1}, "unknown field"),
        ({"tta": "none"}, "test-time augmentation"),
    ],
)
def test_card_mismatches_are_refused(saved, changes, message):
    folder, _ = saved
    _edit_card(folder, **changes)
    with pytest.raises(CheckpointError, match=message):
        load_weights(folder)


def test_changed_weights_are_refused(saved):
    folder, _ = saved
    raw = bytearray((folder / WEIGHTS_FILE).read_bytes())
    raw[-10] ^= 0xFF
    (folder / WEIGHTS_FILE).write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_weights(folder)


def test_weights_with_a_missing_tensor_are_refused_even_with_a_matching_hash(saved):
    folder, _ = saved
    state = load_file(str(folder / WEIGHTS_FILE))
    state.pop("layer3.0.conv2.weight")
    save_file(state, str(folder / WEIGHTS_FILE))
    from model.checkpoint import sha256_bytes

    _edit_card(folder, weights_sha256=sha256_bytes(folder / WEIGHTS_FILE))
    with pytest.raises(CheckpointError, match="1 missing key"):
        load_weights(folder)


def test_not_a_weights_folder(tmp_path):
    with pytest.raises(CheckpointError, match="no model_card.json"):
        load_weights(tmp_path)
    (tmp_path / CARD_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_card(tmp_path)


def medicalnet_style_checkpoint(path, drop=None, extra=None):
    """A file with MedicalNet's layout: {"state_dict": {"module.<key>": tensor}}, plus its decoder."""
    torch.manual_seed(7)
    source = resnet10()
    state = {f"module.{k}": v.clone() for k, v in source.state_dict().items() if not k.startswith("fc.")}
    state["module.conv_seg.0.weight"] = torch.zeros(32, 512, 2, 2, 2)  # MedicalNet's segmentation decoder
    if drop:
        state.pop(f"module.{drop}")
    if extra:
        state.update(extra)
    torch.save({"state_dict": state, "epoch": 200}, path)
    return source


def test_medicalnet_checkpoint_loads_every_encoder_key_and_leaves_the_head_fresh(tmp_path):
    source = medicalnet_style_checkpoint(tmp_path / "resnet_10.pth")
    torch.manual_seed(99)
    model = resnet10()
    head_before = model.fc.weight.clone()
    info = load_medicalnet_encoder(model, tmp_path / "resnet_10.pth")
    for key in encoder_keys(model):
        torch.testing.assert_close(model.state_dict()[key], source.state_dict()[key])
    assert info["keys_loaded"] == len(encoder_keys(model))
    assert info["known_as"] is None and len(info["sha256"]) == 64
    assert info["ignored"] == ["conv_seg.0.weight"]
    assert not torch.equal(model.fc.weight, source.fc.weight)  # head not from the file
    assert model.fc.weight.std().item() < 0.02 and torch.all(model.fc.bias == 0)
    assert model.fc.weight.shape == head_before.shape


@pytest.mark.parametrize(
    "drop, extra, message",
    [
        ("layer3.0.conv1.weight", None, "missing 1 key"),
        (None, {"module.layer5.0.conv1.weight": torch.zeros(1)}, "unexpected 1 key"),
        (None, {"module.conv1.weight": torch.zeros(64, 1, 3, 3, 3)}, "shape"),
    ],
)
def test_partial_medicalnet_match_is_an_error(tmp_path, drop, extra, message):
    medicalnet_style_checkpoint(tmp_path / "bad.pth", drop=drop, extra=extra)
    with pytest.raises(CheckpointError, match=message):
        load_medicalnet_encoder(resnet10(), tmp_path / "bad.pth")


def test_pickled_code_is_not_executed(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (exec, ("open(%r, 'w').write('pwned')" % str(tmp_path / "pwned"),))

    with open(tmp_path / "evil.pth", "wb") as fh:
        pickle.dump({"state_dict": Evil()}, fh)
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_medicalnet_encoder(resnet10(), tmp_path / "evil.pth")
    assert not (tmp_path / "pwned").exists()
