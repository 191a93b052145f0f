"""The main window's commands: every QAction, the menus, the toolbar and the status bar.

Each command is a QAction with its shortcut(s), tooltip and status tip (:func:`make_action`), built
on the window by :func:`build_actions`; :func:`build_menus_and_toolbar` places them and
:data:`MENUS` says, as data, which action goes in which menu. Help > Keyboard shortcuts lists them
from the menus. Buttons elsewhere are bound to these same actions.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QActionGroup, QKeySequence
from PyQt6.QtWidgets import QLabel, QSizePolicy, QStyle, QToolBar, QToolButton

from model.heatmap import HEATMAP_COLORMAPS
from viewer.display import LAYOUTS, WINDOW_PRESET_TIPS, WINDOW_PRESETS
from viewer.panels.help_dialog import show_user_guide
from viewer.views.elided_label import ElidedLabel
from viewer.views.slice_view import ZOOM_STEP

if TYPE_CHECKING:
    from PyQt6.QtWidgets import QWidget

    from viewer.controllers.actions_host import ActionsHost

IMPRESSIONS_UI = {"normal": ("&Normal", "Alt+N"), "injury": ("&Injury", "Alt+I"), "unsure": ("&Unsure", "Alt+U")}
DECISIONS_UI = {
    "accept": ("&Accept AI result", "Ctrl+Alt+A", "Agree with the AI result"),
    "reject": ("&Reject AI result", "Ctrl+Alt+R", "Disregard the AI result (e.g. unreliable input)"),
    "override": ("&Override AI result…", "Ctrl+Alt+O", "Replace the AI's call with yours (normal or injury)"),
}
LAYOUT_SHORTCUTS = {"1x3": "Ctrl+1", "2x2": "Ctrl+2", "1x1": "Ctrl+3"}


def make_action(w: QWidget, text, slot=None, shortcut=None, tip=None, pixmap=None, checkable=False) -> QAction:
    """A QAction with its shortcut(s) (a key, a StandardKey or a list), tooltip and status tip."""
    a = QAction(text, w)
    if pixmap is not None:
        a.setIcon(w.style().standardIcon(pixmap))
    keys = []
    if shortcut is not None:
        for key in shortcut if isinstance(shortcut, (list, tuple)) else [shortcut]:
            # a standard key's first binding is the platform's keyboard shortcut (the rest are media keys)
            keys += (
                QKeySequence.keyBindings(key)[:1] if isinstance(key, QKeySequence.StandardKey) else [QKeySequence(key)]
            )
        a.setShortcuts(keys)
    a.setCheckable(checkable)
    tip = tip or text.replace("&", "").rstrip(".…")
    if keys:
        tip += f" ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})"
    a.setToolTip(tip)
    a.setStatusTip(tip)
    if slot is not None:
        (a.toggled if checkable else a.triggered).connect(slot)
    return a


def build_actions(w: ActionsHost) -> None:
    """Every QAction of the window, as attributes (``w.open_action``, ``w.layout_actions[...]``...)."""
    action = functools.partial(make_action, w)
    SP = QStyle.StandardPixmap
    st = w.state

    # File
    w.open_action = action(
        "&Open…",
        lambda: w.open_dialog(),
        QKeySequence.StandardKey.Open,
        "Open a T2 NIfTI volume",
        SP.SP_DialogOpenButton,
    )
    w.sample_action = action(
        "Open &sample", lambda: w.open_sample(), "Ctrl+Shift+O", "Open the simulated neonatal T2 sample", SP.SP_FileIcon
    )
    w.clear_recent_action = action("&Clear list", lambda: w.opener.clear_recent())
    w.screenshot_action = action(
        "&Screenshot of the views…",
        lambda: w.export_screenshot(),
        "Ctrl+Shift+S",
        "Save the plane views as a PNG image (full screen resolution)",
    )
    w.screenshot_action.setIconText("Screenshot")
    w.report_action = action(
        "PDF &report…",
        lambda: w.export_report(),
        "Ctrl+P",
        "Save a PDF report: scan facts, result, model card, your decision, key slices",
    )
    w.report_action.setIconText("Report")
    w.heatmap_export_action = action(
        "&Heatmap as NIfTI…",
        lambda: w.export_heatmap(),
        "Ctrl+Shift+E",
        "Save the Grad-CAM heatmap on the input's own grid and affine (unmasked)",
    )
    w.quit_action = action("&Quit", w.close, "Ctrl+Q")

    # View
    w.radiological_action = action(
        "&Radiological convention",
        st.set_radiological,
        "Ctrl+Shift+R",
        "Radiological: patient left on screen right (off: neurological)",
        checkable=True,
    )
    w.radiological_action.setChecked(st.radiological)
    w.radiological_action.setIconText("Radiological")
    w.layout_group = QActionGroup(w)
    w.layout_actions = {}
    for key, text in LAYOUTS.items():
        a = action(text, None, LAYOUT_SHORTCUTS[key], checkable=True)
        a.triggered.connect(lambda _checked, k=key: w.set_layout(k))
        a.setIconText({"1x3": "1 × 3", "2x2": "2 × 2", "1x1": "1 plane"}[key])
        w.layout_group.addAction(a)
        w.layout_actions[key] = a
    w.layout_actions["1x1"].setToolTip(
        f"Maximise the active plane (the one last clicked); double click a plane does the same "
        f"({LAYOUT_SHORTCUTS['1x1']})"
    )
    w.zoom_in_action = action(
        "Zoom &in",
        lambda: w.ortho.active_view.zoom(ZOOM_STEP),
        ["Ctrl++", "Ctrl+=", "+", "="],
        "Zoom in the active plane (also Ctrl + wheel)",
    )
    w.zoom_out_action = action(
        "Zoom &out", lambda: w.ortho.active_view.zoom(1 / ZOOM_STEP), ["Ctrl+-", "-"], "Zoom out the active plane"
    )
    w.reset_view_action = action("Reset &view", w.reset_views, "Ctrl+0", "Whole slices, no zoom or pan, in every plane")
    w.next_slice_action = action(
        "&Next slice",
        lambda: w.ortho.active_view.step_slice(+1),
        ["PgUp", "Up", "Right"],
        "Next slice of the active plane (towards R, A or S)",
    )
    w.prev_slice_action = action(
        "&Previous slice",
        lambda: w.ortho.active_view.step_slice(-1),
        ["PgDown", "Down", "Left"],
        "Previous slice of the active plane",
    )
    for a in (w.next_slice_action, w.prev_slice_action):
        # only while a plane has the keyboard focus: arrows keep working in the side panel's fields
        a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        w.ortho.addAction(a)
    w.crosshair_action = action(
        "Show &crosshair", w.set_crosshair, "C", "Show the cursor lines in every plane", checkable=True
    )
    w.crosshair_action.setChecked(True)
    w.crosshair_action.setIconText("Crosshair")
    w.goto_peak_action = action(
        "&Go to heatmap maximum",
        w.go_to_heatmap_peak,
        "Ctrl+M",
        "Move the cursor to the highest heatmap value inside the head",
    )
    w.goto_peak_action.setIconText("Heatmap max")
    w.overlay_action = action(
        "Show &heatmap", st.set_overlay_visible, "H", "Show the Grad-CAM heatmap over the scan", checkable=True
    )
    w.contours_action = action(
        "Heatmap &contour lines",
        st.set_overlay_contours,
        "Shift+H",
        "Outline the heatmap at its threshold",
        checkable=True,
    )
    w.colormap_group = QActionGroup(w)
    w.colormap_actions = {}
    for name in HEATMAP_COLORMAPS:
        a = action(name, None, None, f"Heatmap colormap {name} (perceptually uniform)", checkable=True)
        a.triggered.connect(lambda _c, n=name: st.set_overlay_colormap(n))
        w.colormap_group.addAction(a)
        w.colormap_actions[name] = a
    w.opacity_up_action = action(
        "More opaque heatmap", lambda: st.set_overlay_opacity(st.overlay_opacity + 0.1), "]", "Heatmap opacity +10 %"
    )
    w.opacity_down_action = action(
        "More transparent heatmap",
        lambda: st.set_overlay_opacity(st.overlay_opacity - 0.1),
        "[",
        "Heatmap opacity −10 %",
    )
    w.threshold_up_action = action(
        "Raise heatmap threshold",
        lambda: st.set_overlay_threshold(round(st.overlay_threshold + 0.05, 2)),
        "}",
        "Hide more of the low heatmap values (+0.05)",
    )
    w.threshold_down_action = action(
        "Lower heatmap threshold",
        lambda: st.set_overlay_threshold(round(st.overlay_threshold - 0.05, 2)),
        "{",
        "Show more of the low heatmap values (−0.05)",
    )
    w.window_entry_action = action(
        "Set window / level…",
        lambda: w.show_tab(w.image_panel, w.image_panel.level_spin),
        "Ctrl+Shift+W",
        "Type the window centre and width (Display tab)",
    )
    w.header_action = action(
        "Scan &header and quality…",
        lambda: w.show_tab(w.header_panel),
        "Ctrl+I",
        "File path, shape, voxel size, orientation, data type, qform/sform, SHA-256, quality warnings (Scan tab)",
    )

    # Window / level
    w.reset_window_action = action(
        "&Automatic window (1–99 %)",
        st.reset_window,
        "Ctrl+Shift+L",
        "Back to the automatic window (1st-99th percentile)",
    )
    w.reset_window_action.setToolTip(WINDOW_PRESET_TIPS["auto"] + " (Ctrl+Shift+L)")
    w.reset_window_action.setIconText("Auto window")
    w.full_range_action = action(
        "&Full range", lambda: st.apply_window_preset("full"), "Ctrl+Shift+F", WINDOW_PRESET_TIPS["full"]
    )
    w.neonatal_action = action(
        f"&{WINDOW_PRESETS['neonatal_t2']}",
        lambda: st.apply_window_preset("neonatal_t2"),
        "Ctrl+Shift+B",
        WINDOW_PRESET_TIPS["neonatal_t2"],
    )
    w.invert_action = action(
        "&Invert greyscale", st.set_invert, "I", "Black for bright, white for dark", checkable=True
    )

    # Analysis and model
    w.analyse_action = action(
        "&Analyse",
        lambda: w.start_analysis(),
        "Ctrl+R",
        "Estimate P(injury) and the Grad-CAM heatmap for this scan",
        SP.SP_MediaPlay,
    )
    w.cancel_action = action(
        "&Cancel", lambda: w.cancel_analysis(), "Esc", "Stop the running analysis", SP.SP_MediaStop
    )
    w.load_weights_action = action(
        "&Load weights…",
        lambda: w.load_weights_dialog(),
        "Ctrl+L",
        "Use another weights folder (model.safetensors + model_card.json)",
    )
    w.model_card_action = action(
        "Model &card…", w.show_model_card, None, "What the current model is, was trained on and is for"
    )

    # Reader
    w.impression_group = QActionGroup(w)
    w.impression_actions = {}
    for key, (text, keys) in IMPRESSIONS_UI.items():
        a = action(text, None, keys, f"Record your impression: {key}", checkable=True)
        a.triggered.connect(lambda _checked, k=key: w.record_impression(k))
        w.impression_group.addAction(a)
        w.impression_actions[key] = a
    w.decision_actions = {}
    for key, (text, keys, tip) in DECISIONS_UI.items():
        # checkable: the button of the decision last recorded for this scan shows selected (issue 30)
        w.decision_actions[key] = action(text, None, keys, tip, checkable=True)
        w.decision_actions[key].triggered.connect(lambda _c=False, k=key: w.record_decision(k))
        w.decision_actions[key].setIconText(text.replace("&", "").replace(" AI result", ""))  # buttons
    w.reader_first_action = action(
        "Reader-&first mode",
        w.set_reader_first,
        None,
        "Hide the AI result until you have recorded your impression",
        checkable=True,
    )
    w.reader_name_action = action(
        "Reader &name…", lambda: w.ask_reader_name(), None, "Your name, recorded with every decision"
    )

    # Tools and help
    w.copy_location_action = action(
        "Copy &location", w.copy_location, "Ctrl+Shift+C", "Copy the cursor's voxel, world position and values as text"
    )
    w.verify_audit_action = action(
        "&Verify audit log",
        lambda: w.verify_audit_log(),
        "Ctrl+Shift+V",
        "Check the audit log's hash chain and say where it breaks",
    )
    w.show_audit_action = action("Show audit log &folder", w.reader.show_audit_folder)
    w.signing_key_action = action(
        "Site &signing key…",
        lambda: w.recorder.configure_dialog(),
        None,
        "Sign every audit entry with the site's Ed25519 key (issue 11)",
    )
    w.user_guide_action = action(
        "&User guide", lambda: show_user_guide(w), None, "How to read a scan with this app (shown offline)"
    )
    w.shortcuts_action = action("&Keyboard shortcuts", w.show_shortcuts, QKeySequence.StandardKey.HelpContents)
    w.about_action = action("&About", w.show_about)


#: The menu bar as data: (title, window attribute for the menu or None, entries). An entry is an
#: action attribute of the window, ``"name*"`` for every action of a dict attribute, ``"-"`` for a
#: separator, or a nested (title, attribute, entries) submenu. ``"@recent"`` is File > Open recent.
MENUS = [
    (
        "&File",
        None,
        [
            "open_action",
            "@recent",
            "sample_action",
            "-",
            ("&Export", None, ["screenshot_action", "report_action", "heatmap_export_action"]),
            "-",
            "quit_action",
        ],
    ),
    (
        "&View",
        None,
        [
            ("&Layout", None, ["layout_actions*"]),
            "zoom_in_action",
            "zoom_out_action",
            "reset_view_action",
            "-",
            "next_slice_action",
            "prev_slice_action",
            "goto_peak_action",
            "-",
            (
                "&Window / level",
                None,
                [
                    "reset_window_action",
                    "full_range_action",
                    "neonatal_action",
                    "-",
                    "invert_action",
                    "window_entry_action",
                ],
            ),
            (
                "&Heatmap",
                None,
                [
                    "overlay_action",
                    "contours_action",
                    ("&Colormap", None, ["colormap_actions*"]),
                    "-",
                    "opacity_up_action",
                    "opacity_down_action",
                    "threshold_up_action",
                    "threshold_down_action",
                ],
            ),
            "-",
            "radiological_action",
            "crosshair_action",
            "header_action",
        ],
    ),
    ("&Analysis", None, ["analyse_action", "cancel_action"]),
    ("&Model", None, ["load_weights_action", "model_card_action"]),
    (
        "&Reader",
        None,
        ["impression_actions*", "-", "decision_actions*", "-", "reader_first_action", "reader_name_action"],
    ),
    # (the Batch menu is inserted after Tools, before Help, by viewer.batch.dialog.install_batch_menu)
    (
        "&Tools",
        "tools_menu",
        ["copy_location_action", "-", "verify_audit_action", "show_audit_action", "signing_key_action"],
    ),
    ("&Help", "help_menu", ["user_guide_action", "shortcuts_action", "about_action"]),
]
#: The toolbar as data (same entry syntax as :data:`MENUS`).
TOOLBAR = [
    "open_action",
    "sample_action",
    "-",
    "analyse_action",
    "cancel_action",
    "-",
    "radiological_action",
    "overlay_action",
    "reset_window_action",
    "-",
    "screenshot_action",
    "report_action",
]


def _fill(w: ActionsHost, menu, entries: list) -> None:
    for entry in entries:
        if entry == "-":
            menu.addSeparator()
        elif entry == "@recent":
            w.recent_menu = menu.addMenu("Open &recent")
            w.recent_menu.aboutToShow.connect(w.opener.fill_recent_menu)
            w.opener.fill_recent_menu()
        elif isinstance(entry, tuple):
            title, attribute, sub_entries = entry
            submenu = menu.addMenu(title)
            if attribute:
                setattr(w, attribute, submenu)
            _fill(w, submenu, sub_entries)
        elif entry.endswith("*"):
            menu.addActions(list(getattr(w, entry[:-1]).values()))
        else:
            menu.addAction(getattr(w, entry))


def build_menus_and_toolbar(w: ActionsHost) -> None:
    """The menu bar from :data:`MENUS` and the toolbar from :data:`TOOLBAR`."""
    bar = w.menuBar()
    for title, attribute, entries in MENUS:
        menu = bar.addMenu(title)
        if attribute:
            setattr(w, attribute, menu)
        _fill(w, menu, entries)
    w.toolbar = QToolBar("Main")
    w.toolbar.setObjectName("MainToolBar")
    w.toolbar.setMovable(False)
    w.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    _fill(w, w.toolbar, TOOLBAR)
    w.toolbar.widgetForAction(w.analyse_action).setObjectName("AnalyseButton")  # styled as the main action
    w.addToolBar(w.toolbar)


#: Widths (px) the status bar's model label may take at most and at least (folder and full hash in its tooltip).
MODEL_LABEL_MAX_PX, MODEL_LABEL_MIN_PX = 280, 60


def build_status_bar(w: ActionsHost) -> None:
    """The status-bar widgets: cursor readout, copy button, W/L; convention, model and device.

    The readout, copy button and W/L (long, changing texts) are *normal* widgets, which Qt hides
    while a temporary message is shown, so a message ("Saved …/a_long_name_report.pdf (2 pages)")
    gets the whole left part; the convention, model and device labels are permanent. No label's
    minimum width drives the window's: as permanent widgets with fixed minimum widths they used to
    add up to more than a 1000-pixel window, which widened itself when a longer text appeared
    (issue 11).
    """
    sb = w.statusBar()
    w.readout_label = QLabel()
    w.copy_button = QToolButton()
    w.copy_button.setDefaultAction(w.copy_location_action)
    w.copy_button.setAutoRaise(True)
    w.level_width_label = QLabel()
    for label in (w.readout_label, w.level_width_label):
        label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    w.convention_status = QLabel()
    w.convention_status.setObjectName("ConventionStatus")
    w.model_label = ElidedLabel(tooltip=False)  # elided with "…" when short of room, never cut (issue 30)
    w.model_label.setObjectName("ModelLabel")
    w.model_label.setMaximumWidth(MODEL_LABEL_MAX_PX)  # its text when there is room, elided when not
    w.model_label.setMinimumWidth(MODEL_LABEL_MIN_PX)
    w.device_label = QLabel(f"Device: {w.device}")
    sb.addWidget(w.readout_label, 3)
    sb.addWidget(w.copy_button)
    sb.addWidget(w.level_width_label, 1)
    for widget in (w.convention_status, w.model_label, w.device_label):
        sb.addPermanentWidget(widget)


class ActionStates:
    """Keeps the actions' checked and enabled states in step with :class:`viewer.state.ViewerState`.

    The window connects the state's ``*_changed`` signals to these methods (``window.action_states``);
    the settings follow the same changes (radiological, overlay, layout are remembered).
    """

    def __init__(self, window: ActionsHost):
        self.w = window

    def on_radiological_changed(self, radiological: bool) -> None:
        self.w.radiological_action.blockSignals(True)
        self.w.radiological_action.setChecked(radiological)
        self.w.radiological_action.blockSignals(False)
        self.w.convention_status.setText("<b>Radiological</b>" if radiological else "<b>Neurological</b>")
        self.w.settings.radiological = radiological

    def on_overlay_changed(self) -> None:
        st = self.w.state
        for a, on in (
            (self.w.overlay_action, st.overlay_visible),
            (self.w.contours_action, st.overlay_contours),
            (self.w.colormap_actions[st.overlay_colormap], True),
        ):
            a.blockSignals(True)
            a.setChecked(on)
            a.blockSignals(False)
        self.w.settings.save_overlay(
            st.overlay_visible, st.overlay_opacity, st.overlay_colormap, st.overlay_threshold, st.overlay_contours
        )
        self.on_result_changed()  # "show anyway" of an out-of-distribution result changes what may be shown

    def on_invert_changed(self, invert: bool) -> None:
        self.w.invert_action.blockSignals(True)
        self.w.invert_action.setChecked(invert)
        self.w.invert_action.blockSignals(False)

    def on_layout_changed(self, layout: str, plane: str) -> None:
        self.w.layout_actions[layout].setChecked(True)
        self.w.settings.layout = (layout, plane)

    def on_result_changed(self, *_args) -> None:
        st = self.w.state
        result = st.result
        shown = st.result_visible
        has_heatmap = shown and result.heatmap is not None
        for a in (
            self.w.overlay_action,
            self.w.contours_action,
            self.w.goto_peak_action,
            self.w.heatmap_export_action,
            self.w.report_action,
            self.w.opacity_up_action,
            self.w.opacity_down_action,
            self.w.threshold_up_action,
            self.w.threshold_down_action,
            *self.w.colormap_actions.values(),
        ):
            a.setEnabled(has_heatmap)
        for a in self.w.decision_actions.values():
            a.setEnabled(shown)
        for a in (self.w.goto_peak_action, self.w.heatmap_export_action):  # read off the heatmap (issue 30)
            a.setEnabled(has_heatmap and st.result_disclosed)
        if result is not None:
            self.w.device_label.setText(f"Device: {result.device}")
        self.w.update_readout()

    def on_reader_changed(self, *_args) -> None:
        st = self.w.state
        self.w.reader_first_action.blockSignals(True)
        self.w.reader_first_action.setChecked(st.reader_first)
        self.w.reader_first_action.blockSignals(False)
        for key, a in self.w.impression_actions.items():
            a.setEnabled(st.volume is not None)
            a.setChecked(st.impression == key)
        last = (st.last_decision or {}).get("decision")
        for key, a in self.w.decision_actions.items():
            a.setChecked(last == key)  # what was recorded last, not what was pressed (issue 30)
        self.on_result_changed()
