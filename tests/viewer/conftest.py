"""Viewer test fixtures: pyqtgraph configured as at start-up, shown main windows."""
from __future__ import annotations

import pytest

from viewer.app import configure_pyqtgraph


@pytest.fixture(scope="session", autouse=True)
def _pyqtgraph_config():
    configure_pyqtgraph()


@pytest.fixture
def make_window(qtbot, random_weights):
    """Factory of shown main windows (weights default to the session's random weights)."""
    from viewer.main_window import MainWindow

    def make(weights_dir=random_weights, size=(1200, 700)):
        window = MainWindow(weights_dir=weights_dir)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def window(make_window):
    return make_window()
