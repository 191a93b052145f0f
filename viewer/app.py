"""Application start-up: command line, Qt application, pyqtgraph configuration, main window.

``run(argv)`` is what ``main.py`` calls::

    python main.py [SCAN.nii.gz] [--weights DIR] [--device auto|cpu|cuda]

With no scan the simulated sample opens. Unexpected exceptions in Qt slots are logged with their
traceback and shown to the reader as one line (they never end the application).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import pyqtgraph as pg
from PyQt6.QtGui import QColor, QIcon, QPalette
from PyQt6.QtWidgets import QApplication, QMessageBox

import model

log = logging.getLogger(__name__)

STYLE_SHEET = """
QToolBar { spacing: 4px; padding: 2px; border: none; }
QToolButton { padding: 3px 6px; }
QGroupBox { font-weight: bold; margin-top: 12px; padding-top: 8px; border: 1px solid #3a3a3a; border-radius: 3px; }
QGroupBox::title { subcontrol-origin: margin; subcontrol-position: top left; left: 6px; padding: 0 3px; }
QToolButton#AnalyseButton { font-weight: bold; background: #1e5f9e; border: 1px solid #2a7ac4; border-radius: 3px; }
QToolButton#AnalyseButton:disabled { background: #2e3640; color: #7a8590; border-color: #3a4450; }
QLabel#ProbabilityCaption, QLabel#DetailName { color: #9e9e9e; }
QLabel#HeatmapCaption { color: #bdbdbd; font-style: italic; }
QLabel#IntendedUse { color: #e0e0e0; }
QLabel#ConventionLabel { color: #ffd54f; font-weight: bold; }
QWidget#OrthoView { background: #101010; }
QLabel#ScanLabel { color: #e0e0e0; }
QLabel#ObliqueLabel { color: #1a1a1a; background: #ffb74d; font-weight: bold; padding: 1px 6px; border-radius: 3px; }
QLabel#WarningBanner { color: #1a1a1a; background: #ff8a65; font-weight: bold; padding: 6px; border-radius: 3px; }
QLabel#HintLabel { color: #9e9e9e; font-size: 9pt; }
QFrame#InfoPanel { background: #0b0b0b; }
QFrame#InfoPanel QLabel { background: transparent; }
QLabel#InfoTitle { color: #64b5f6; font-weight: bold; }
QLabel#InfoValue { color: #f0f0f0; font-family: monospace; }
QLineEdit#CopyableValue { background: transparent; font-family: monospace; }
QSlider#SliceSlider { background: #101010; max-height: 14px; }
QSlider#SliceSlider::groove:horizontal { height: 3px; background: #3a3a3a; margin: 0 6px; }
QSlider#SliceSlider::sub-page:horizontal { background: #6b6b6b; margin-left: 6px; }
QSlider#SliceSlider::handle:horizontal { background: #c8c8c8; width: 8px; margin: -5px 0; border-radius: 2px; }
QToolButton:checked { background: #1e5f9e; border: 1px solid #2a7ac4; border-radius: 3px; }
QTabBar::tab { padding: 4px 14px; }
QStatusBar QLabel { padding: 0 4px; }
"""


def configure_pyqtgraph() -> None:
    """Once at start-up: numpy arrays are (row, column) images; no antialiasing of thin lines."""
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


def apply_dark_theme(app: QApplication) -> None:
    """Fusion style with a dark palette (images are read on a dark background)."""
    app.setStyle("Fusion")
    pal = QPalette()
    c = QColor
    roles = {
        QPalette.ColorRole.Window: c(37, 37, 38),
        QPalette.ColorRole.WindowText: c(224, 224, 224),
        QPalette.ColorRole.Base: c(28, 28, 28),
        QPalette.ColorRole.AlternateBase: c(45, 45, 45),
        QPalette.ColorRole.ToolTipBase: c(50, 50, 50),
        QPalette.ColorRole.ToolTipText: c(230, 230, 230),
        QPalette.ColorRole.Text: c(224, 224, 224),
        QPalette.ColorRole.Button: c(50, 50, 52),
        QPalette.ColorRole.ButtonText: c(224, 224, 224),
        QPalette.ColorRole.BrightText: c(255, 80, 80),
        QPalette.ColorRole.Highlight: c(42, 130, 218),
        QPalette.ColorRole.HighlightedText: c(255, 255, 255),
        QPalette.ColorRole.Link: c(100, 170, 255),
        QPalette.ColorRole.PlaceholderText: c(140, 140, 140),
    }
    for role, colour in roles.items():
        pal.setColor(role, colour)
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, c(120, 120, 120))
    app.setPalette(pal)
    app.setStyleSheet(STYLE_SHEET)


def parse_args(argv: list) -> argparse.Namespace:
    """Parse ``argv`` (``argv[0]`` is the program)."""
    parser = argparse.ArgumentParser(
        prog=Path(argv[0]).name if argv else "main.py",
        description="GloResNet second reader: view a neonatal T2 MRI volume and estimate P(injury).",
    )
    parser.add_argument("scan", nargs="?", help="a T2 NIfTI volume (.nii or .nii.gz); default: the simulated sample")
    parser.add_argument(
        "--weights",
        metavar="DIR",
        default=str(model.DEFAULT_WEIGHTS_DIR),
        help="weights folder (model.safetensors + model_card.json); default: %(default)s",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the network runs (default: auto = CUDA when available)",
    )
    return parser.parse_args(argv[1:])


def _install_excepthook(window) -> None:
    """Exceptions escaping Qt slots: log the traceback, tell the reader one line, keep running."""
    from viewer.services.worker import one_line

    def hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.error("Unhandled exception", exc_info=(exc_type, exc, tb))
        try:
            window.show_error("Unexpected error", one_line(exc))
        except Exception:  # noqa: BLE001 - never raise from the hook itself
            log.exception("could not show the error")

    sys.excepthook = hook


def build(argv: list):
    """Create (or reuse) the QApplication and the main window and start opening the scan.

    Returns
    -------
    (QApplication, MainWindow)
    """
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication(list(argv))
    from viewer.services.settings import set_application_identity

    set_application_identity(app)
    app.setDesktopFileName(
        "gloresnet"
    )  # matches the installed gloresnet.desktop (python -m viewer.services.desktop_entry)
    configure_pyqtgraph()
    apply_dark_theme(app)

    from viewer.main_window import ICON_PATH, MainWindow  # after the pyqtgraph configuration

    if ICON_PATH.is_file():
        app.setWindowIcon(QIcon(str(ICON_PATH)))
    window = MainWindow(weights_dir=args.weights, device=args.device)
    if window.settings.window_geometry() is None:
        window.resize(1500, 900)
    window.show()
    if args.scan:
        window.open_path(args.scan)
    else:
        window.open_sample()
    return app, window


def run(argv: list) -> int:
    """Start the application; returns the exit status."""
    try:
        app, window = build(argv)
        _install_excepthook(window)
    except ValueError as exc:  # e.g. --device cuda without CUDA
        app = QApplication.instance() or QApplication(list(argv))
        QMessageBox.critical(None, "Cannot start", str(exc).splitlines()[0])
        return 2
    status = app.exec()
    del window
    return status
