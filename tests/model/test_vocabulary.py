"""One home per rule: the flag's words, TTA's two passes and their mean, one file hash, one UTC format."""

import json
import re

import numpy as np
import pytest
import torch

from model.vocabulary import CLASSES, INJURY, Flag, flag_for


def test_flag_is_the_worklist_text_and_the_band_is_strict():
    assert [str(f) for f in Flag] == ["above threshold", "indeterminate", "below threshold", "out of distribution"]
    assert f"{Flag.ABOVE}" == "above threshold" and json.dumps({"flag": Flag.BELOW}) == '{"flag": "below threshold"}'
    assert flag_for(0.60, 0.5, 0.25) is Flag.INDETERMINATE and flag_for(0.40, 0.5, 0.25) is Flag.INDETERMINATE
    assert flag_for(0.75, 0.5, 0.25) is Flag.ABOVE  # |p - t| == band is outside the band (exact binary values)
    assert flag_for(0.25, 0.5, 0.25) is Flag.BELOW
    assert flag_for(0.50, 0.5, 0.0) is Flag.ABOVE  # p >= threshold is above
    assert CLASSES[INJURY] == "injury"


def test_tta_forward_with_features_gives_the_same_probabilities_as_the_plain_forward():
    """Training's evaluation (features for t-SNE) and the app's scoring share one TTA implementation."""
    from model.inference import tta_forward, tta_mean
    from model.network import resnet10

    torch.manual_seed(0)
    net = resnet10().eval()
    x = torch.randn(2, 1, 16, 16, 16)
    x[:, :, :4] += 3.0  # asymmetric, so the flipped pass differs
    plain = tta_forward(net, x)
    with_features = tta_forward(net, x, with_features=True)
    np.testing.assert_allclose(plain.p_identity, with_features.p_identity, atol=1e-6)
    np.testing.assert_allclose(plain.p_flipped, with_features.p_flipped, atol=1e-6)
    assert with_features.features.shape == (2, 512) and plain.features is None
    assert not np.allclose(plain.p_identity, plain.p_flipped)
    np.testing.assert_allclose(plain.probability, tta_mean(plain.p_identity, plain.p_flipped))
    expected = torch.softmax(net(torch.flip(x, dims=(2,))), 1)[:, INJURY].detach().numpy()
    np.testing.assert_allclose(plain.p_flipped, expected, atol=1e-6)


def test_one_file_hash_and_one_utc_format(tmp_path):
    import hashlib

    from model.checkpoint import sha256_bytes
    from model.fileio import sha256_file
    from model.timestamps import utc_now

    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 3_000_000)  # more than one chunk
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest() == sha256_bytes(path)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", utc_now())


@pytest.mark.parametrize("module", ["model.score", "model.checkpoint", "model.record.audit", "model.record.report"])
def test_no_module_formats_utc_time_itself(module):
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(module))
    assert "datetime.now(" not in source and "timezone.utc" not in source
