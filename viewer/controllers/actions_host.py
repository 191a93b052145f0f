"""What :mod:`viewer.controllers.actions` needs of the window, and what it builds on it.

The window's commands are built *on* the window (``window.open_action``, ``window.layout_actions``…)
so that menus, toolbar, buttons and tests reach one QAction each. :class:`ActionsHost` says both
halves as one typed interface: the slots the actions call and the objects they read, and the
attributes :func:`viewer.controllers.actions.build_actions`, ``build_menus_and_toolbar`` and
``build_status_bar`` create. :class:`viewer.main_window.MainWindow` satisfies it; the actions
module never imports the window (which imports it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import torch
    from PyQt6.QtGui import QAction, QActionGroup
    from PyQt6.QtWidgets import QLabel, QMenu, QMenuBar, QStatusBar, QStyle, QToolBar, QToolButton

    from viewer.controllers.audit import AuditRecorder
    from viewer.controllers.reader import ReaderController
    from viewer.controllers.scan_opener import ScanOpener
    from viewer.panels.header_panel import HeaderPanel
    from viewer.panels.image_panel import ImagePanel
    from viewer.services.settings import Settings
    from viewer.state import ViewerState
    from viewer.views.elided_label import ElidedLabel
    from viewer.views.ortho_view import OrthoView


class ActionsHost(Protocol):
    """The window as the actions see it (a ``QMainWindow``: also their Qt parent)."""

    # -- read: the objects the actions drive ----------------------------------------------------------
    state: ViewerState
    settings: Settings
    ortho: OrthoView
    opener: ScanOpener
    recorder: AuditRecorder
    reader: ReaderController
    image_panel: ImagePanel
    header_panel: HeaderPanel

    @property
    def device(self) -> torch.device: ...

    # -- called: the slots behind the actions ---------------------------------------------------------
    def open_dialog(self) -> None: ...

    def open_sample(self) -> object: ...

    def export_screenshot(self, path: str | Path | None = None) -> Path | None: ...

    def export_heatmap(self, path: str | Path | None = None) -> Path | None: ...

    def export_report(self, path: str | Path | None = None) -> object: ...

    def load_weights_dialog(self) -> None: ...

    def show_model_card(self) -> None: ...

    def start_analysis(self) -> object: ...

    def cancel_analysis(self) -> None: ...

    def record_impression(self, impression: str) -> dict | None: ...

    def record_decision(
        self, decision: str, reason: str | None = None, override_call: str | None = None
    ) -> dict | None: ...

    def set_reader_first(self, on: bool) -> None: ...

    def ask_reader_name(self) -> str: ...

    def verify_audit_log(self) -> object: ...

    def set_layout(self, layout: str) -> None: ...

    def reset_views(self) -> None: ...

    def set_crosshair(self, on: bool) -> None: ...

    def go_to_heatmap_peak(self) -> None: ...

    def copy_location(self) -> str: ...

    def show_tab(self, panel, focus=None) -> None: ...

    def show_shortcuts(self) -> object: ...

    def show_about(self) -> None: ...

    def update_readout(self, *_args) -> None: ...

    # -- Qt: the QMainWindow parts used --------------------------------------------------------------
    def style(self) -> QStyle: ...

    def menuBar(self) -> QMenuBar: ...  # noqa: N802 - Qt API

    def statusBar(self) -> QStatusBar: ...  # noqa: N802 - Qt API

    def addToolBar(self, toolbar: QToolBar) -> None: ...  # noqa: N802 - Qt API

    def close(self) -> bool: ...

    # -- created: the commands, built by viewer.controllers.actions -----------------------------------
    # File
    open_action: QAction
    sample_action: QAction
    recent_menu: QMenu
    clear_recent_action: QAction
    screenshot_action: QAction
    report_action: QAction
    heatmap_export_action: QAction
    quit_action: QAction
    # View
    radiological_action: QAction
    layout_group: QActionGroup
    layout_actions: dict[str, QAction]
    reset_view_action: QAction
    zoom_in_action: QAction
    zoom_out_action: QAction
    next_slice_action: QAction
    prev_slice_action: QAction
    crosshair_action: QAction
    copy_location_action: QAction
    header_action: QAction
    # Image
    invert_action: QAction
    reset_window_action: QAction
    full_range_action: QAction
    neonatal_action: QAction
    window_entry_action: QAction
    # Heatmap
    overlay_action: QAction
    contours_action: QAction
    colormap_group: QActionGroup
    colormap_actions: dict[str, QAction]
    opacity_up_action: QAction
    opacity_down_action: QAction
    threshold_up_action: QAction
    threshold_down_action: QAction
    goto_peak_action: QAction
    # Analysis and model
    analyse_action: QAction
    cancel_action: QAction
    load_weights_action: QAction
    model_card_action: QAction
    # Reader
    impression_group: QActionGroup
    impression_actions: dict[str, QAction]
    decision_actions: dict[str, QAction]
    reader_first_action: QAction
    reader_name_action: QAction
    show_audit_action: QAction
    verify_audit_action: QAction
    signing_key_action: QAction
    # Help
    shortcuts_action: QAction
    user_guide_action: QAction
    about_action: QAction
    # Toolbar and status bar
    toolbar: QToolBar
    readout_label: QLabel
    copy_button: QToolButton
    level_width_label: QLabel
    convention_status: QLabel
    model_label: ElidedLabel
    device_label: QLabel
