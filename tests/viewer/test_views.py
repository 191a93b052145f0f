"""Changing the state updates the three plane views (and gestures change the state)."""

import nibabel as nib
import numpy as np
import pytest
from PyQt6.QtCore import QPointF, Qt

from tests.viewer.helpers import asymmetric_scan, make_result, open_and_wait, right_drag, wheel
from viewer.display import window_levels


def _pixel_rect(view):
    """Image rectangle of a view in viewport pixels."""
    return view.graphics.mapFromScene(view.image_item.sceneBoundingRect()).boundingRect()


def test_template_shows_three_planes_with_true_shapes_and_aspect(qtbot, window, t2_scan):
    scan = open_and_wait(qtbot, window, t2_scan)
    assert scan.volume.shape == (117, 159, 126)  # RAS+ (on disk LAS)
    views = window.ortho.views
    assert views["axial"].displayed_image().shape == (159, 117)  # rows A-P, columns R-L
    assert views["coronal"].displayed_image().shape == (126, 117)  # rows S-I
    assert views["sagittal"].displayed_image().shape == (126, 159)  # rows S-I, columns A-P
    assert [views[p].slice_index for p in ("sagittal", "coronal", "axial")] == [58, 79, 63]
    rect = _pixel_rect(views["axial"])
    assert rect.height() / rect.width() == pytest.approx(159 / 117, rel=0.02)  # isotropic 0.859 mm
    assert window.ortho.convention_label.text().startswith("Radiological")
    for view in views.values():
        assert view.v_line.isVisible() and view.h_line.isVisible()


def test_anisotropic_voxels_are_drawn_with_their_true_aspect(qtbot, window):
    scan = asymmetric_scan(shape=(12, 16, 10), spacing_mm=(1.0, 1.0, 3.0))
    window.state.set_scan(scan)
    coronal = window.ortho.views["coronal"]  # X across, Z (3 mm) up
    rect = coronal.image_item.mapRectToView(coronal.image_item.boundingRect())
    assert (rect.width(), rect.height()) == pytest.approx((12.0, 30.0))
    pixels = _pixel_rect(coronal)
    voxel_h, voxel_w = pixels.height() / 10, pixels.width() / 12
    assert voxel_h / voxel_w == pytest.approx(3.0, rel=0.05)


def test_click_in_axial_moves_cursor_and_the_other_planes(qtbot, window, t2_scan):
    open_and_wait(qtbot, window, t2_scan)
    axial = window.ortho.views["axial"]
    target = (30, 110, window.state.cursor[2])
    pos = axial.view_position_of(target).toPoint()
    qtbot.mouseClick(axial.graphics.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert window.state.cursor == target
    assert window.ortho.views["sagittal"].slice_index == 30
    assert window.ortho.views["coronal"].slice_index == 110
    assert axial.slice_index == target[2]
    assert axial.v_line.value() == pytest.approx(
        30 * window.state.volume.spacing_mm[0]
    )  # crosshair on the clicked voxel


def test_wheel_steps_the_slice_of_the_plane_under_the_mouse(qtbot, window, t2_scan):
    open_and_wait(qtbot, window, t2_scan)
    coronal = window.ortho.views["coronal"]
    before = window.state.cursor
    viewport = coronal.graphics.viewport()
    wheel(viewport, QPointF(viewport.width() / 2, viewport.height() / 2), notches=+1)
    assert window.state.cursor == (before[0], before[1] + 1, before[2])
    assert coronal.slice_index == before[1] + 1
    wheel(viewport, QPointF(viewport.width() / 2, viewport.height() / 2), notches=-3)
    assert coronal.slice_index == before[1] - 2
    assert window.ortho.views["axial"].slice_index == before[2]  # other planes keep their slice


def test_radiological_toggle_mirrors_the_axial_image_and_swaps_letters(qtbot, window):
    window.state.set_scan(asymmetric_scan(shape=(24, 32, 20)))
    window.state.set_cursor((0, 0, 19))  # crosshair at a corner, slice through the bright R-A-S block
    axial = window.ortho.views["axial"]
    qtbot.wait(50)
    radiological = axial.render_image_pixels().astype(float)
    assert (axial.letters["left"].text(), axial.letters["right"].text()) == ("R", "L")

    window.radiological_action.trigger()  # the View menu action
    assert window.state.radiological is False
    qtbot.wait(50)
    neurological = axial.render_image_pixels().astype(float)
    assert (axial.letters["left"].text(), axial.letters["right"].text()) == ("L", "R")
    assert (axial.letters["top"].text(), axial.letters["bottom"].text()) == ("A", "P")

    rows, cols = (min(a, b) for a, b in zip(radiological.shape, neurological.shape))
    a, b = radiological[:rows, :cols], neurological[:rows, :cols]
    assert np.corrcoef(np.fliplr(a).ravel(), b.ravel())[0, 1] > 0.95  # mirror image
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] < 0.5  # not the same picture
    # the bright block lies towards patient Right and Anterior: top-left in radiological view
    top = a[: rows // 3]
    assert top[:, : cols // 3].mean() > top[:, -cols // 3 :].mean() + 50
    assert "Neurological" in window.convention_status.text()
    # the data were not touched
    assert window.state.volume.data[-1, -1, -1] == 100.0


def test_right_drag_changes_window_in_all_views_and_reset_restores_it(qtbot, window, t2_scan):
    open_and_wait(qtbot, window, t2_scan)
    default = window.state.window
    sagittal = window.ortho.views["sagittal"]
    viewport = sagittal.graphics.viewport()
    right_drag(viewport, QPointF(viewport.width() / 2, viewport.height() / 2), QPointF(60, -30))
    level, width = window.state.window
    assert width > default[1] and level > default[0]  # right = wider, up = higher level
    for view in window.ortho.views.values():
        assert tuple(view.image_item.levels) == pytest.approx(window_levels(level, width))
    window.reset_window_action.trigger()
    assert window.state.window == default
    assert tuple(window.ortho.views["axial"].image_item.levels) == pytest.approx(window_levels(*default))


def test_default_window_is_1st_to_99th_percentile_of_nonzero(qtbot, window, t2_scan):
    scan = open_and_wait(qtbot, window, t2_scan)
    data = scan.volume.data
    lo, hi = np.percentile(data[data != 0], [1, 99])
    assert tuple(window.ortho.views["axial"].image_item.levels) == pytest.approx((lo, hi))


def test_las_and_ras_files_display_identical_axial_images(qtbot, window, t2_scan, tmp_path):
    img = nib.load(str(t2_scan))
    assert nib.aff2axcodes(img.affine) == ("L", "A", "S")
    data = np.asarray(img.dataobj)
    n = data.shape[0]
    flip_x = np.array([[-1, 0, 0, n - 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float)
    ras = nib.Nifti1Image(np.ascontiguousarray(data[::-1]), img.affine @ flip_x)
    assert nib.aff2axcodes(ras.affine) == ("R", "A", "S")
    las_path, ras_path = tmp_path / "las.nii.gz", tmp_path / "ras.nii.gz"
    nib.save(nib.Nifti1Image(data, img.affine), str(las_path))
    nib.save(ras, str(ras_path))

    axial = window.ortho.views["axial"]
    images = []
    for path in (las_path, ras_path):
        open_and_wait(qtbot, window, path)
        window.state.set_cursor((20, 100, 70))
        images.append(np.array(axial.displayed_image()))
    assert np.array_equal(images[0], images[1])
    assert not np.array_equal(images[0], images[0][:, ::-1])  # an L-R mix-up would have shown


def test_heatmap_overlay_shares_the_scan_rectangle_and_hides_low_values(qtbot, window):
    from model.heatmap import heatmap_lut

    scan = asymmetric_scan(shape=(12, 16, 10), spacing_mm=(0.7, 0.9, 2.0))
    window.state.set_scan(scan)
    heatmap = np.linspace(0, 1, scan.volume.data.size, dtype=np.float32).reshape(scan.volume.shape)
    window.state.set_result(make_result(scan.volume, heatmap), card=None)
    for view in window.ortho.views.values():
        assert view.overlay_item.isVisible()
        assert view.overlay_item.image.shape == view.image_item.image.shape
        assert view.overlay_item.sceneBoundingRect() == view.image_item.sceneBoundingRect()
    axial = window.ortho.views["axial"]
    assert np.array_equal(axial.overlay_item.image, heatmap[:, :, axial.slice_index].T)
    lut = heatmap_lut(window.state.overlay_colormap, window.state.overlay_threshold)
    assert np.array_equal(axial.overlay_item.lut, lut)  # the shared colouring, transparent below the threshold
    assert lut[: int(window.state.overlay_threshold * 255), 3].max() == 0 and lut[-1, 3] == 255

    window.overlay_action.trigger()  # H
    assert not window.state.overlay_visible and not axial.overlay_item.isVisible()
    assert not window.panel.overlay_checkbox.isChecked()
    window.panel.overlay_checkbox.setChecked(True)
    assert axial.overlay_item.isVisible()
    window.panel.opacity_slider.setValue(30)
    assert axial.overlay_item.opacity() == pytest.approx(0.3)
    window.state.set_cursor((3, 4, 7))
    assert np.array_equal(axial.overlay_item.image, heatmap[:, :, 7].T)  # follows the slice


def test_arrow_keys_step_the_focused_plane(qtbot, window):
    window.state.set_scan(asymmetric_scan())
    sagittal = window.ortho.views["sagittal"]
    before = sagittal.slice_index
    qtbot.keyClick(sagittal, Qt.Key.Key_Up)
    qtbot.keyClick(sagittal, Qt.Key.Key_PageUp)
    assert sagittal.slice_index == before + 2 == window.state.cursor[0]
    qtbot.keyClick(sagittal, Qt.Key.Key_Down)
    assert sagittal.slice_index == before + 1


def test_left_drag_moves_the_cursor_continuously(qtbot, window):
    from PyQt6.QtCore import QEvent

    from tests.viewer.helpers import send_mouse

    window.state.set_scan(asymmetric_scan(shape=(24, 32, 20)))
    coronal = window.ortho.views["coronal"]
    viewport = coronal.graphics.viewport()
    start, end = coronal.view_position_of((4, 16, 5)), coronal.view_position_of((18, 16, 15))
    L, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send_mouse(viewport, QEvent.Type.MouseButtonPress, start, L, L)
    seen = []
    window.state.cursor_changed.connect(seen.append)
    for s in range(1, 6):
        send_mouse(viewport, QEvent.Type.MouseMove, start + (end - start) * (s / 5), none, L)
        qtbot.wait(25)  # pyqtgraph rate-limits mouse moves (about 60 per second)
    send_mouse(viewport, QEvent.Type.MouseButtonRelease, end, L, none)
    assert window.state.cursor == (18, 16, 15)  # the coronal slice (j) is unchanged
    assert len(seen) >= 3  # intermediate positions were followed
    assert window.ortho.views["sagittal"].slice_index == 18 and window.ortho.views["axial"].slice_index == 15
