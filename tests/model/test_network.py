"""ResNet-10 as in METHOD.md: parameter count, MedicalNet key layout, feature/head split."""

import torch

from model.network import RESNET10_PARAMETERS, encoder_keys, resnet10


def test_parameter_count_matches_method():
    assert sum(p.numel() for p in resnet10().parameters()) == RESNET10_PARAMETERS == 14_356_546


def test_state_dict_keys_follow_medicalnet():
    keys = set(resnet10().state_dict())
    for key in (
        "conv1.weight",
        "bn1.running_mean",
        "layer1.0.conv1.weight",
        "layer1.0.bn2.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_var",
        "layer4.0.downsample.0.weight",
        "fc.weight",
        "fc.bias",
    ):
        assert key in keys
    assert "layer1.0.downsample.0.weight" not in keys  # identity shortcut in stage 1
    assert not [k for k in encoder_keys(resnet10()) if k.startswith("fc.")]


def test_feature_grid_and_head_shapes():
    torch.manual_seed(0)
    model = resnet10().eval()
    x = torch.randn(2, 1, 64, 64, 64)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (2, 512)
        torch.testing.assert_close(model.forward_head(feats), model(x))
        assert model.layer4(
            model.layer3(model.layer2(model.layer1(model.maxpool(model.relu(model.bn1(model.conv1(x)))))))
        ).shape[2:] == (2, 2, 2)


def test_head_initialisation_is_small_normal():
    torch.manual_seed(0)
    w = resnet10().fc.weight
    assert abs(w.std().item() - 0.01) < 0.002 and w.abs().max().item() < 0.06
