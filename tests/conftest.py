"""Shared test setup: headless Qt, markers, the real data in ../shared (or the built-in sample), tiny weights.

The repository root is on ``sys.path`` through pytest's ``pythonpath`` setting (pyproject.toml).

Markers (registered in pyproject.toml, ``--strict-markers``): ``slow`` is set by hand on the tests
that take seconds; ``gui`` is added here to every test under tests/viewer or using ``qtbot``;
``realdata`` to every test using :func:`serag_t2` or :func:`t2_scan`.
``GLORESNET_SHARED_DATA=/nonexistent pytest`` runs the suite as a fresh clone without ../shared would.
"""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import pytest  # noqa: E402 - after the Qt platform is chosen

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("GLORESNET_SHARED_DATA", ROOT.parent / "shared" / "data"))
SERAG = SHARED_DATA / "neonatal-serag"
REALDATA_FIXTURES = {"serag_t2", "t2_scan"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if "qtbot" in names or "tests/viewer/" in item.nodeid:
            item.add_marker(pytest.mark.gui)
        if names & REALDATA_FIXTURES:
            item.add_marker(pytest.mark.realdata)


def serag_path(kind: str, week: int) -> Path:
    """Path of a real neonatal template file; the test is skipped when ../shared/data is absent."""
    path = SERAG / kind / f"template-{week}.nii.gz"
    if not path.is_file():
        pytest.skip(f"real neonatal template not available: {path} (../shared/data is absent)")
    return path


@pytest.fixture
def serag_t2():
    """A real 40-week neonatal T2 template (117x159x126, 0.859 mm, LAS); skipped when absent."""
    return serag_path("T2", 40)


@pytest.fixture(scope="session")
def t2_scan(tmp_path_factory) -> Path:
    """A 40-week neonatal T2 file: the real template when ../shared/data has it, else the app's sample.

    The built-in sample (:func:`model.simulation.phantom.sample_image`) is simulated but shaped like
    the template (117x159x126 voxels, LAS on disk, 0.86 mm), so tests that check geometry, TTA, the
    GUI workflow or file handling hold for either.
    """
    path = SERAG / "T2" / "template-40.nii.gz"
    if path.is_file():
        return path
    import nibabel as nib

    from model.simulation.phantom import sample_image

    path = tmp_path_factory.mktemp("sample") / "sample-40w_T2w.nii.gz"
    nib.save(sample_image(), path)
    return path


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """A weights folder with seeded random ResNet-10 weights and a valid card (not trained)."""
    import torch

    from model.checkpoint import new_card, save_weights
    from model.network import resnet10

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights") / "random"
    save_weights(
        folder,
        resnet10(),
        new_card("random-test", "0.0", demonstration=True, training={"command": "tests/conftest.py", "data": "none"}),
    )
    return folder


@pytest.fixture(scope="session")
def small_weights(tmp_path_factory):
    """Random ResNet-10 weights whose card asks for a 32^3 input grid: fast for batch tests."""
    import torch

    from model.checkpoint import new_card, save_weights
    from model.network import resnet10
    from model.preprocessing import PreprocessConfig

    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("weights") / "small"
    save_weights(
        folder,
        resnet10(),
        new_card(
            "small-test",
            "0.0",
            PreprocessConfig(target_shape=(32, 32, 32)),
            demonstration=True,
            training={"command": "tests/conftest.py"},
        ),
    )
    return folder


@pytest.fixture(scope="session")
def seg_weights(tmp_path_factory):
    """Random ResNet-10 weights WITH a (narrow, fast) segmentation decoder (issue 28), 32^3 grid, valid card."""
    import torch

    from model.checkpoint import new_card, save_weights
    from model.network import resnet10
    from model.preprocessing import PreprocessConfig
    from model.segmentation import N_SEG_CLASSES, label_table

    torch.manual_seed(2)
    folder = tmp_path_factory.mktemp("weights") / "seg"
    card = new_card(
        "seg-test",
        "0.0",
        PreprocessConfig(target_shape=(32, 32, 32)),
        demonstration=True,
        training={"command": "tests/conftest.py"},
    )
    card.segmentation = {"labels": label_table(), "widths": [8, 8, 8, 8, 8], "grid": [32, 32, 32]}
    save_weights(folder, resnet10(seg_classes=N_SEG_CLASSES, seg_widths=(8, 8, 8, 8, 8)), card)
    return folder
