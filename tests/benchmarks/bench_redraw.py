"""Benchmark: time to redraw all three planes after a cursor move, heatmap overlay on (prints numbers).

    .venv/bin/python -m tests.benchmarks.bench_redraw [--size 256] [--moves 300] [--window 1600x1000]

Offscreen, the real main window (dark theme, shown, three planes side by side) shows a simulated
``size``³ volume (1 mm voxels, a noisy ellipsoidal head) with a smooth heatmap over it, masked to
the head as in the app. Each measured step moves the cursor to a random voxel, so every plane
changes its slice (the worst case), and then forces a synchronous paint of the three planes
(``repaint()`` of each plane's viewport, and separately ``grab()`` of each whole plane view).
Printed: median, 95th percentile and maximum per move, with the overlay on, with contour lines on,
and with the overlay off. Target: p95 <= 16 ms (60 frames per second).

Settings and application data go to a temporary folder (the user's are not touched).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
_TMP = tempfile.mkdtemp(prefix="bench-redraw-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_TMP, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_TMP, "data")

import numpy as np  # noqa: E402
from PyQt6.QtCore import QSettings  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

TARGET_MS = 16.0


def simulated_scan(n: int, seed: int = 0):
    """A noisy ellipsoidal 'head' of n³ 1 mm voxels and a smooth heatmap (0..1) over it."""
    from model.volume import volume_from_array
    from viewer.display import make_scan

    rng = np.random.default_rng(seed)
    g = (np.arange(n, dtype=np.float32) - n / 2) / (n / 2)
    x, y, z = np.meshgrid(g, g, g, indexing="ij", sparse=True)
    r2 = (x / 0.75) ** 2 + (y / 0.9) ** 2 + (z / 0.8) ** 2
    data = np.where(r2 < 1.0, 400.0 + 200.0 * np.cos(6 * x) * np.sin(5 * y), 0.0).astype(np.float32)
    data += rng.normal(0, 10, data.shape).astype(np.float32) * (r2 < 1.0)
    data[data < 0] = 0
    heatmap = np.exp(-(((x - 0.2) / 0.35) ** 2 + ((y + 0.1) / 0.4) ** 2 + (z / 0.45) ** 2)).astype(np.float32)
    volume = volume_from_array(data, np.eye(4))
    return make_scan(volume, f"simulated {n}³"), heatmap


def fake_result(volume, heatmap):
    from model.inference import AnalysisResult

    return AnalysisResult(
        probability=0.62,
        pass_probabilities=(0.6, 0.64),
        heatmap=heatmap,
        affine=volume.affine,
        decision_threshold=0.5,
        indeterminate_band=0.1,
        model_name="bench",
        model_version="0",
        weights_sha256="0" * 64,
        demonstration=True,
        device="cpu",
    )


def measure(app, window, moves: int, rng) -> dict:
    """Per-move milliseconds of state.set_cursor + a forced paint.

    ``viewports``: ``repaint()`` of the three plane viewports (scan, heatmap, contours, crosshair:
    what changes on a cursor move). ``grab``: ``QWidget.grab()`` of the three whole plane views
    (viewport, letters, title, slider) into new pixmaps, an upper bound that includes allocating them.
    """
    state, views = window.state, list(window.ortho.views.values())
    shape = state.volume.shape
    out = {"viewports": [], "grab": []}
    for which in out:
        for _ in range(moves):
            ijk = tuple(int(rng.integers(n // 8, n - n // 8)) for n in shape)
            app.processEvents()
            t0 = time.perf_counter()
            state.set_cursor(ijk)
            for view in views:
                if which == "viewports":
                    view.graphics.viewport().repaint()
                else:
                    view.grab()
            out[which].append(1000.0 * (time.perf_counter() - t0))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="volume edge in voxels (default 256)")
    ap.add_argument("--moves", type=int, default=300, help="cursor moves per measurement (default 300)")
    ap.add_argument("--window", default="1600x1000", help="window size WxH (default 1600x1000)")
    args = ap.parse_args()

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, os.path.join(_TMP, "config"))
    app = QApplication.instance() or QApplication(sys.argv)
    from viewer.app import apply_dark_theme, configure_pyqtgraph

    configure_pyqtgraph()
    apply_dark_theme(app)
    from viewer.main_window import MainWindow

    t0 = time.perf_counter()
    scan, heatmap = simulated_scan(args.size)
    prep_s = time.perf_counter() - t0
    window = MainWindow(weights_dir=Path(_TMP) / "no-weights")
    w, h = (int(v) for v in args.window.lower().split("x"))
    window.resize(w, h)
    window.show()
    app.processEvents()
    window.state.set_scan(scan)
    window.state.set_result(fake_result(scan.volume, heatmap), card=None)
    window.state.set_overlay_visible(True)
    window.state.set_overlay_opacity(0.5)
    for _ in range(10):
        app.processEvents()
    view_sizes = ", ".join(f"{p} {v.graphics.width()}x{v.graphics.height()}" for p, v in window.ortho.views.items())
    print(
        f"volume {args.size}³ float32 ({scan.volume.data.nbytes / 2**20:.0f} MiB), head mask + presets in "
        f"{prep_s:.1f} s; window {w}x{h}; views {view_sizes}; Qt platform {app.platformName()}"
    )
    rng = np.random.default_rng(0)
    measure(app, window, 20, rng)  # warm-up (first paints, caches)

    rows = []
    for label, setup in (
        ("overlay on", lambda: None),
        ("overlay + contours", lambda: window.state.set_overlay_contours(True)),
        ("overlay off", lambda: (window.state.set_overlay_contours(False), window.state.set_overlay_visible(False))),
    ):
        setup()
        result = measure(app, window, args.moves, rng)
        for which, times in result.items():
            t = np.asarray(times)
            rows.append((label, which, np.median(t), np.percentile(t, 95), t.max()))
    print(f"\nredraw of all three planes after a cursor move ({args.moves} moves each; target <= {TARGET_MS:.0f} ms)")
    print(f"{'case':<20} {'painted':<10} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  verdict")
    for label, which, med, p95, mx in rows:
        verdict = "OK" if p95 <= TARGET_MS else "over target"
        print(f"{label:<20} {which:<10} {med:>10.2f} {p95:>8.2f} {mx:>8.2f}  {verdict}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
