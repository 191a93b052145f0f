"""Viewer test fixtures: pyqtgraph configured as at start-up, shown main windows, private settings.

Every test gets its own settings file and application-data folder under ``tmp_path``: QSettings
is pointed there with ``QSettings.setPath`` and the XDG folders are redirected, so no test reads or
writes the real user's settings or audit log.
"""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QSettings

from viewer.app import configure_pyqtgraph


@pytest.fixture(scope="session", autouse=True)
def _pyqtgraph_config():
    configure_pyqtgraph()


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Settings and application data of this test only (returns the folder that holds them)."""
    home = tmp_path / "user"
    for var, sub in (("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"), ("XDG_DOCUMENTS_DIR", "Documents")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(home / "config"))
    return home


@pytest.fixture
def settings(private_settings):
    from viewer.services.settings import Settings

    return Settings()


@pytest.fixture
def make_window(qtbot, random_weights):
    """Factory of shown main windows (weights default to the session's random weights)."""
    from viewer.main_window import MainWindow

    def make(weights_dir=random_weights, size=(1200, 700), **kwargs):
        window = MainWindow(weights_dir=weights_dir, **kwargs)
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        qtbot.waitExposed(window)
        return window

    return make


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture
def reading(window):
    """A window showing a scan (with a file hash) and a reader name in the settings (tests may override)."""
    from tests.viewer.helpers import head_scan

    window.settings.reader_name = "Dr Test"
    scan = head_scan()
    scan.volume.sha256 = "ef" * 32
    window.state.set_scan(scan)
    return window
