"""Looking at the scan: changing the state updates the views, and every control changes the state.

Cursor readout and copy, window/level (numeric, presets, invert), zoom and pan, layouts, sliders,
slice keys, orientation notes, the header panel, and the heatmap overlay (colormap, threshold,
contours, head mask, go to maximum).
"""

import math

import numpy as np
import pytest
from PyQt6.QtCore import QEvent, QPointF, Qt
from PyQt6.QtGui import QGuiApplication

from model.heatmap import head_mask, heatmap_lut, heatmap_peak
from tests.viewer.helpers import head_scan, make_result, open_and_wait, save_nifti, send_mouse
from viewer.display import (
    NEONATAL_T2_PERCENTILES,
    cursor_readout,
    window_levels,
    window_presets,
)
from viewer.views.slice_view import INVERTED_GREY_LUT, ZOOM_STEP


def _with_result(window, scan=None, heatmap=None):
    scan = scan or head_scan()
    window.state.set_scan(scan)
    if heatmap is None:
        heatmap = np.linspace(0, 1, scan.volume.data.size, dtype=np.float32).reshape(scan.volume.shape)
    window.state.set_result(make_result(scan.volume, heatmap), card=None)
    return scan, heatmap


# -- pure display logic ------------------------------------------------------------------------------
def test_head_mask_is_above_background_with_holes_filled():
    data = np.zeros((20, 20, 20), np.float32)
    data[4:16, 4:16, 4:16] = 50.0
    data[8:12, 8:12, 8:12] = 0.0  # a dark region inside the head
    mask = head_mask(data)
    assert mask[10, 10, 10] and mask[5, 5, 5] and not mask[1, 1, 1] and not mask[18, 10, 10]


def test_presets_are_relative_to_the_scan():
    rng = np.random.default_rng(0)
    data = rng.uniform(100, 900, (20, 20, 20)).astype(np.float32)
    data[:3] = 0
    mask = data > 0
    presets = window_presets(data, mask)
    lo, hi = np.percentile(data[mask], NEONATAL_T2_PERCENTILES)
    assert window_levels(*presets["neonatal_t2"]) == pytest.approx((lo, hi))
    assert window_levels(*presets["full"]) == pytest.approx((0.0, float(data.max())))
    scaled = window_presets(data * 7.0, mask)  # arbitrary T2 units: the preset scales with them
    assert window_levels(*scaled["neonatal_t2"]) == pytest.approx((7 * lo, 7 * hi), rel=1e-5)


def test_heatmap_peak_ignores_values_outside_the_head():
    heatmap = np.zeros((6, 6, 6), np.float32)
    heatmap[0, 0, 0] = 1.0  # outside the head
    heatmap[3, 2, 4] = 0.6  # highest inside
    mask = np.zeros_like(heatmap, bool)
    mask[1:5, 1:5, 1:5] = True
    assert heatmap_peak(heatmap, mask) == (3, 2, 4)
    assert heatmap_peak(heatmap) == (0, 0, 0)


# -- cursor readout ------------------------------------------------------------------------------------
def test_cursor_readout_shows_voxel_world_intensity_heatmap_and_copies(qtbot, window):
    scan, heatmap = _with_result(window, head_scan(spacing_mm=(0.5, 1.0, 2.0)))
    window.state.set_layout("2x2")
    window.state.set_cursor((5, 7, 9))
    r = cursor_readout(scan.volume, (5, 7, 9), heatmap)
    assert r.world_mm == pytest.approx((2.5, 7.0, 18.0))
    info = window.ortho.info
    assert info.isVisible()
    assert info.values["voxel"].text() == "(5, 7, 9)"
    assert info.values["world"].text() == "(2.5, 7.0, 18.0)"
    assert info.values["intensity"].text() == f"{scan.volume.data[5, 7, 9]:.4g}"
    assert info.values["heatmap"].text().startswith(f"{heatmap[5, 7, 9]:.3f}")
    assert "i 5, j 7, k 9" in window.readout_label.text() and "(2.5, 7.0, 18.0) mm" in window.readout_label.text()
    text = window.copy_location()
    assert QGuiApplication.clipboard().text() == text
    assert "(5, 7, 9)" in text and "(2.5, 7.0, 18.0) mm" in text and "heatmap" in text
    window.state.set_cursor((0, 0, 0))  # background: outside the head, the heatmap is not shown there
    assert "outside the head" in info.values["heatmap"].text()


# -- window / level ------------------------------------------------------------------------------------
def test_window_controls_and_presets_update_every_plane(qtbot, window):
    scan = head_scan()
    window.state.set_scan(scan)
    panel, views = window.image_panel, window.ortho.views.values()

    window.neonatal_action.trigger()
    assert window.state.window == pytest.approx(scan.presets["neonatal_t2"])
    assert panel.preset_combo.currentData() == "neonatal_t2"
    for view in views:
        assert tuple(view.image_item.levels) == pytest.approx(window_levels(*scan.presets["neonatal_t2"]))
    assert "percentile" in window.neonatal_action.toolTip() and "units" in window.neonatal_action.toolTip()

    panel.preset_combo.setCurrentIndex(panel.preset_combo.findData("full"))
    panel.preset_combo.activated.emit(panel.preset_combo.findData("full"))
    assert window.state.window == pytest.approx(scan.presets["full"])

    panel.level_spin.setValue(40.0)  # numeric entry
    assert window.state.window[0] == pytest.approx(40.0)
    assert panel.preset_combo.currentText() == "Custom"
    panel.low_spin.setValue(10.0)
    panel.high_spin.setValue(30.0)
    assert window_levels(*window.state.window) == pytest.approx((10.0, 30.0))
    assert panel.level_spin.value() == pytest.approx(20.0) and panel.width_spin.value() == pytest.approx(20.0)
    axial = window.ortho.views["axial"]
    assert tuple(axial.image_item.levels) == pytest.approx((10.0, 30.0))

    window.state.step_slice(2, 3)  # the window survives slice changes
    assert tuple(axial.image_item.levels) == pytest.approx((10.0, 30.0))

    window.invert_action.trigger()
    assert window.state.invert and panel.invert_checkbox.isChecked()
    assert np.array_equal(axial.image_item.lut, INVERTED_GREY_LUT)
    panel.invert_checkbox.setChecked(False)
    assert not window.state.invert and axial.image_item.lut is None
    window.reset_window_action.trigger()
    assert window.state.window == pytest.approx(scan.default_window) and panel.preset_combo.currentData() == "auto"


# -- zoom, pan, layout, sliders, keys ------------------------------------------------------------------
def test_ctrl_wheel_zooms_the_plane_under_the_mouse_and_reset_view_restores(qtbot, window):
    window.state.set_scan(head_scan())
    coronal, axial = window.ortho.views["coronal"], window.ortho.views["axial"]
    before = coronal.view_box.viewRect()
    vp = coronal.graphics.viewport()
    from tests.viewer.helpers import QApplication, QPoint, QWheelEvent

    ev = QWheelEvent(
        QPointF(vp.width() / 2, vp.height() / 2),
        QPointF(vp.mapToGlobal(QPoint(10, 10))),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    cursor = window.state.cursor
    QApplication.sendEvent(vp, ev)
    assert coronal.zoom_factor == pytest.approx(ZOOM_STEP)
    assert coronal.view_box.viewRect().width() < before.width()
    assert window.state.cursor == cursor  # Ctrl+wheel zooms, it does not change the slice
    assert axial.zoom_factor == 1.0  # per plane
    assert window.ortho.active_plane == "coronal"
    window.zoom_in_action.trigger()  # acts on the active plane
    assert coronal.zoom_factor == pytest.approx(ZOOM_STEP**2)
    window.zoom_out_action.trigger()
    assert coronal.zoom_factor == pytest.approx(ZOOM_STEP)
    window.reset_view_action.trigger()
    assert coronal.zoom_factor == 1.0
    assert coronal.view_box.viewRect().width() == pytest.approx(before.width(), rel=1e-3)


def test_middle_drag_pans_the_plane(qtbot, window):
    window.state.set_scan(head_scan())
    sagittal = window.ortho.views["sagittal"]
    sagittal.zoom(2.0)
    before = sagittal.view_box.viewRect().center()
    vp = sagittal.graphics.viewport()
    start = QPointF(vp.width() / 2, vp.height() / 2)
    M, none = Qt.MouseButton.MiddleButton, Qt.MouseButton.NoButton
    send_mouse(vp, QEvent.Type.MouseButtonPress, start, M, M)
    for s in range(1, 6):
        send_mouse(vp, QEvent.Type.MouseMove, start + QPointF(0, -12 * s), none, M)
        qtbot.wait(20)
    send_mouse(vp, QEvent.Type.MouseButtonRelease, start + QPointF(0, -60), M, none)
    after = sagittal.view_box.viewRect().center()
    assert after.y() != pytest.approx(before.y(), abs=0.5)  # the content followed the mouse
    assert after.x() == pytest.approx(before.x(), abs=0.5)


@pytest.mark.parametrize("layout, shown", [("1x3", 3), ("2x2", 3), ("1x1", 1)])
def test_layout_actions_rearrange_the_planes(qtbot, window, layout, shown):
    window.state.set_scan(head_scan())
    window.ortho.set_active_plane("coronal")
    window.layout_actions[layout].trigger()
    assert window.state.layout == layout and window.layout_actions[layout].isChecked()
    assert len(window.ortho.shown_views()) == shown
    assert window.ortho.info.isVisible() == (layout == "2x2")
    if layout == "1x1":
        assert window.ortho.shown_views() == [window.ortho.views["coronal"]]
        assert window.ortho.views["coronal"].graphics.width() > 0.8 * window.ortho.width()


def _double_click(vp):
    """Press, release, double-click, release: the sequence a real double click delivers."""
    L, none, pos = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, QPointF(vp.rect().center())
    for kind, buttons in (
        (QEvent.Type.MouseButtonPress, L),
        (QEvent.Type.MouseButtonRelease, none),
        (QEvent.Type.MouseButtonDblClick, L),
        (QEvent.Type.MouseButtonRelease, none),
    ):
        send_mouse(vp, kind, pos, L, buttons)


def test_double_click_maximises_a_plane_and_back(qtbot, window):
    window.state.set_scan(head_scan())
    sagittal = window.ortho.views["sagittal"]
    _double_click(sagittal.graphics.viewport())
    assert (window.state.layout, window.state.single_plane) == ("1x1", "sagittal")
    _double_click(sagittal.graphics.viewport())
    assert window.state.layout == "1x3"


def test_sliders_and_slice_actions_follow_and_move_the_cursor(qtbot, window):
    scan = head_scan()
    window.state.set_scan(scan)
    axial = window.ortho.views["axial"]
    assert axial.slider.maximum() == scan.volume.shape[2] - 1 and axial.slider.value() == window.state.cursor[2]
    axial.slider.setValue(3)
    assert window.state.cursor[2] == 3 and axial.slice_index == 3 and "k 3 /" in axial.title.text()
    window.state.step_slice(2, 2)
    assert axial.slider.value() == 5
    window.ortho.set_active_plane("coronal")
    j = window.state.cursor[1]
    window.next_slice_action.trigger()
    window.next_slice_action.trigger()
    window.prev_slice_action.trigger()
    assert window.state.cursor[1] == j + 1


def test_keyboard_shortcuts_reach_the_actions(qtbot, window):
    _with_result(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is not None, timeout=5000)
    window.ortho.views["axial"].setFocus()
    visible = window.state.overlay_visible
    qtbot.keyClick(window.ortho.views["axial"], Qt.Key.Key_H)
    assert window.state.overlay_visible is not visible
    k = window.state.cursor[2]
    qtbot.keyClick(window.ortho.views["axial"], Qt.Key.Key_PageUp)
    assert window.state.cursor[2] == k + 1
    qtbot.keyClick(window.ortho.views["axial"], Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.state.layout == "2x2"


# -- orientation and header ----------------------------------------------------------------------------
def test_oblique_file_says_display_is_closest_canonical(qtbot, window, tmp_path):
    rng = np.random.default_rng(0)
    data = rng.uniform(0, 10, (10, 12, 8)).astype(np.float32)
    angle = math.radians(12)
    rot = np.array(
        [
            [math.cos(angle), -math.sin(angle), 0, 0],
            [math.sin(angle), math.cos(angle), 0, 0],
            [0, 0, 1, 0],
            [0, 0, 0, 1],
        ]
    )
    open_and_wait(qtbot, window, save_nifti(tmp_path / "oblique.nii.gz", data, rot))
    label = window.ortho.oblique_label
    assert label.isVisible() and "closest canonical" in label.text() and "12.0°" in label.text()
    assert any("oblique" in w for w in window.state.scan.quality)
    open_and_wait(qtbot, window, save_nifti(tmp_path / "straight.nii.gz", data, np.eye(4)))
    assert not label.isVisible()


def test_header_panel_lists_facts_sha_and_warns_when_qform_and_sform_disagree(qtbot, window, tmp_path):
    data = np.random.default_rng(1).uniform(0, 10, (10, 12, 8)).astype(np.float32)
    shifted = np.eye(4)
    shifted[:3, 3] = (5.0, 0, 0)
    path = save_nifti(tmp_path / "two-positions.nii.gz", data, np.eye(4), qform_affine=shifted)
    scan = open_and_wait(qtbot, window, path)
    panel = window.header_panel
    window.tabs.setCurrentIndex(window.tabs.indexOf(panel.parentWidget().parentWidget()))
    assert panel.qform_warning.isVisible() and "disagree" in panel.qform_warning.text()
    assert panel.values["SHA-256"].text() == scan.volume.sha256
    assert panel.values["File"].text() == str(path)
    assert panel.values["Voxel size"].text() == "1 × 1 × 1 mm"
    assert "float32" in panel.values["Data type"].text()
    assert "qform" in panel.values["qform / sform"].text()
    assert "qform and sform disagree" in panel.warnings_label.text()
    open_and_wait(qtbot, window, save_nifti(tmp_path / "fine.nii.gz", data, np.eye(4)))
    assert not panel.qform_warning.isVisible()


# -- heatmap overlay -----------------------------------------------------------------------------------
def test_heatmap_is_shown_only_inside_the_head(qtbot, window):
    scan = head_scan()
    heatmap = np.full(scan.volume.shape, 0.8, np.float32)  # a haze everywhere, as Grad-CAM gives
    _with_result(window, scan, heatmap)
    axial = window.ortho.views["axial"]
    shown = axial.displayed_heatmap()
    mask_slice = scan.head_mask[:, :, axial.slice_index].T
    assert np.all(shown[~mask_slice] == 0) and np.all(shown[mask_slice] == pytest.approx(0.8))
    assert (~mask_slice).any() and mask_slice.any()


def test_colormap_threshold_opacity_and_contours_update_overlay_and_colour_bar(qtbot, window):
    scan, _ = _with_result(window)
    panel = window.panel
    axial = window.ortho.views["axial"]
    panel.colormap_combo.setCurrentText("viridis")
    assert window.state.overlay_colormap == "viridis"
    assert np.array_equal(axial.overlay_item.lut, heatmap_lut("viridis", window.state.overlay_threshold))
    panel.threshold_slider.setValue(40)
    assert window.state.overlay_threshold == pytest.approx(0.40)
    assert np.array_equal(axial.overlay_item.lut, heatmap_lut("viridis", 0.40))
    assert panel.colour_bar_low.text() == "0.40"  # the colour bar starts at the threshold
    assert panel.colour_bar.pixmap().width() == 256 - int(np.ceil(0.40 * 255))
    window.state.set_overlay_opacity(0.25)
    assert panel.opacity_slider.value() == 25 and axial.overlay_item.opacity() == pytest.approx(0.25)

    assert not axial.contour_item.isVisible()
    window.contours_action.trigger()
    assert window.state.overlay_contours and panel.contours_checkbox.isChecked()
    assert axial.contour_item.isVisible()
    xs, ys = axial.contour_item.getData()
    assert np.isfinite(xs).sum() > 4
    window.state.set_overlay_visible(False)
    assert not axial.contour_item.isVisible() and not axial.overlay_item.isVisible()


def test_go_to_heatmap_maximum_moves_the_cursor_inside_the_head(qtbot, window):
    scan = head_scan()
    heatmap = np.zeros(scan.volume.shape, np.float32)
    heatmap[0, 0, 0] = 1.0  # outside the head: ignored
    heatmap[15, 9, 12] = 0.9
    _with_result(window, scan, heatmap)
    window.goto_peak_action.trigger()
    assert window.state.cursor == (15, 9, 12)
    assert window.ortho.views["axial"].slice_index == 12


def test_heatmap_and_window_menus_reach_the_panel_controls(qtbot, window):
    _with_result(window)
    window.colormap_actions["magma"].trigger()
    assert window.state.overlay_colormap == "magma" and window.panel.colormap_combo.currentText() == "magma"
    window.panel.colormap_combo.setCurrentText("cividis")
    assert window.colormap_actions["cividis"].isChecked()
    opacity, threshold = window.state.overlay_opacity, window.state.overlay_threshold
    window.opacity_up_action.trigger()
    window.threshold_up_action.trigger()
    assert window.state.overlay_opacity == pytest.approx(opacity + 0.1)
    assert window.state.overlay_threshold == pytest.approx(threshold + 0.05)
    assert window.panel.threshold_slider.value() == round(100 * (threshold + 0.05))
    window.activateWindow()
    window.window_entry_action.trigger()
    assert window.tabs.currentWidget().widget() is window.image_panel
    qtbot.waitUntil(window.image_panel.level_spin.hasFocus, timeout=5000)
    window.header_action.trigger()
    assert window.tabs.currentWidget().widget() is window.header_panel
