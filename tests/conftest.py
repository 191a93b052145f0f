"""Shared test setup: headless Qt, paths to the real data in ../shared, tiny weights."""
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any Qt import

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED_DATA = ROOT.parent / "shared" / "data"
SERAG = SHARED_DATA / "neonatal-serag"


def serag_path(kind: str, week: int) -> Path:
    """Path of a real neonatal template file; the test is skipped when ../shared/data is absent."""
    path = SERAG / kind / f"template-{week}.nii.gz"
    if not path.is_file():
        pytest.skip(f"real neonatal template not available: {path} (../shared/data is absent)")
    return path


@pytest.fixture
def serag_t2():
    """A real 40-week neonatal T2 template (117x159x126, 0.859 mm, LAS)."""
    return serag_path("T2", 40)


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """A weights folder with seeded random ResNet-10 weights and a valid card (not trained)."""
    import torch

    from model.checkpoint import new_card, save_weights
    from model.network import resnet10

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("weights") / "random"
    save_weights(folder, resnet10(), new_card("random-test", "0.0", demonstration=True,
                                              training={"command": "tests/conftest.py", "data": "none"}))
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
    save_weights(folder, resnet10(), new_card("small-test", "0.0", PreprocessConfig(target_shape=(32, 32, 32)),
                                              demonstration=True, training={"command": "tests/conftest.py"}))
    return folder
