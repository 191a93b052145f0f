"""Display geometry without Qt: orientation letters, slicing, image rectangle, default window."""

import numpy as np
import pytest

from viewer.display import (
    GEOMETRY,
    default_window,
    edge_letters,
    h_increases_right,
    image_rect_mm,
    plane_slice,
    view_to_voxel,
    voxel_to_view,
    window_levels,
)

# plane, radiological -> letters at (left, right, top, bottom)
LETTERS = [
    ("axial", True, ("R", "L", "A", "P")),
    ("axial", False, ("L", "R", "A", "P")),
    ("coronal", True, ("R", "L", "S", "I")),
    ("coronal", False, ("L", "R", "S", "I")),
    ("sagittal", True, ("A", "P", "S", "I")),
    ("sagittal", False, ("A", "P", "S", "I")),
]


@pytest.mark.parametrize("plane, radiological, expected", LETTERS)
def test_edge_letters(plane, radiological, expected):
    letters = edge_letters(GEOMETRY[plane], radiological)
    assert (letters["left"], letters["right"], letters["top"], letters["bottom"]) == expected


@pytest.mark.parametrize(
    "plane, radiological, right",
    [
        ("axial", True, False),
        ("axial", False, True),
        ("coronal", True, False),
        ("coronal", False, True),
        ("sagittal", True, False),
        ("sagittal", False, False),
    ],
)
def test_horizontal_direction(plane, radiological, right):
    """Radiological: RAS X (towards patient Right) increases towards the screen's left."""
    assert h_increases_right(GEOMETRY[plane], radiological) is right


def test_plane_slice_orientation_and_no_copy():
    data = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)  # (X, Y, Z), all axes distinct
    axial = plane_slice(data, GEOMETRY["axial"], 2)
    coronal = plane_slice(data, GEOMETRY["coronal"], 1)
    sagittal = plane_slice(data, GEOMETRY["sagittal"], 0)
    assert axial.shape == (4, 3) and coronal.shape == (5, 3) and sagittal.shape == (5, 4)
    # rows follow the vertical axis (Y for axial, Z otherwise), columns the horizontal one
    assert axial[3, 1] == data[1, 3, 2]
    assert coronal[4, 2] == data[2, 1, 4]
    assert sagittal[4, 3] == data[0, 3, 4]
    for view in (axial, coronal, sagittal):
        assert np.shares_memory(view, data)


def test_image_rect_keeps_voxel_aspect():
    shape, spacing = (10, 20, 30), (1.0, 1.0, 3.0)
    x, y, w, h = image_rect_mm(shape, spacing, GEOMETRY["coronal"])  # X across, Z up
    assert (x, y, w, h) == (-0.5, -1.5, 10.0, 90.0)
    assert (h / 30) / (w / 10) == 3.0


@pytest.mark.parametrize("plane", ["axial", "coronal", "sagittal"])
def test_view_voxel_round_trip(plane):
    geom, shape, spacing = GEOMETRY[plane], (10, 20, 30), (0.8, 1.1, 2.5)
    ijk = (7, 13, 21)
    u, v = voxel_to_view(ijk, geom, spacing)
    assert view_to_voxel(u + 0.3 * spacing[geom.h_axis], v - 0.4 * spacing[geom.v_axis], geom, shape, spacing) == (
        ijk[geom.h_axis],
        ijk[geom.v_axis],
    )
    assert view_to_voxel(-1e3, 1e3, geom, shape, spacing) == (0, shape[geom.v_axis] - 1)  # clamped


def test_default_window_is_nonzero_percentiles():
    rng = np.random.default_rng(1)
    data = np.zeros((20, 20, 20), np.float32)
    data[5:15, 5:15, 5:15] = rng.uniform(100, 200, size=(10, 10, 10))
    level, width = default_window(data)
    lo, hi = window_levels(level, width)
    nz = data[data != 0]
    assert lo == pytest.approx(np.percentile(nz, 1)) and hi == pytest.approx(np.percentile(nz, 99))
    assert lo > 100  # zeros (background) are ignored


def test_default_window_of_constant_data_has_positive_width():
    assert default_window(np.full((3, 3, 3), 5.0, np.float32))[1] > 0


@pytest.mark.slow
def test_display_geometry_and_jobs_are_headless():
    """viewer.display and viewer.services.jobs (pure logic) load no Qt, so they run and test without a display."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import sys, viewer.display, viewer.services.jobs, viewer.controllers.export_content, viewer.services.desktop_entry\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in ('PyQt6', 'pyqtgraph'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
