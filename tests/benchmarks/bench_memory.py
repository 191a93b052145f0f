"""Benchmark: resident memory while scoring many scans and opening many in the app (prints numbers).

    .venv/bin/python -m tests.benchmarks.bench_memory [--score 200] [--open 50] [--distinct 8]
        [--weights DIR] [--device auto] [--analyse] [--baseline 3]

Two phases, in one process, as a long session would run:

1. **scoring**: ``--score`` scans through :func:`model.score.score_steps` (the batch scorer: loader
   threads, bounded prefetch), one after another;
2. **opening**: ``--open`` scans opened in the real main window (offscreen, shown), one after another,
   each waiting for ``scan_loaded``; with ``--analyse`` each is analysed too (P(injury) + heatmap).

The scans are ``--distinct`` built-in sample phantoms (117x159x126, 0.86 mm, the real templates'
size; :func:`model.simulation.phantom.sample_image` with different seeds), written once to a
temporary folder; the ``--score``/``--open`` files are hard links to them (distinct paths, little disk).
Resident memory (VmRSS) is printed at the start, after the first ``--baseline`` scans of each phase
(the baseline: caches and the weights are warm by then), in the middle and at the end, with the
growth over the baseline. Target (issue 30): growth beyond the baseline within 10 %. It prints; it
does not pass or fail. Small counts work for a quick look, e.g. ``--score 6 --open 4``.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep the user's real settings and audit log out of the benchmark's window.
_TMP = tempfile.mkdtemp(prefix="bench-memory-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_TMP, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_TMP, "data")

TARGET_GROWTH = 0.10


def rss_mb() -> float:
    """Resident memory of this process now, MB (VmRSS; the peak where /proc is missing)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_scans(folder: Path, n: int, distinct: int) -> list[Path]:
    """``distinct`` phantom files and ``n`` hard links to them (copies where links are refused)."""
    import nibabel as nib

    from model.simulation.phantom import sample_image

    sources = []
    for seed in range(distinct):
        path = folder / "sources" / f"phantom-{seed:02d}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(sample_image(seed=100 + seed), path)
        sources.append(path)
    scans = []
    for i in range(n):
        path = folder / "scans" / f"scan-{i:04d}.nii.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(sources[i % distinct], path)
        except OSError:
            shutil.copyfile(sources[i % distinct], path)
        scans.append(path)
    return scans


class Marks:
    """RSS at the start, after the baseline scans, in the middle and at the end of one phase."""

    def __init__(self, name: str, n: int, baseline: int):
        self.name, self.n, self.baseline = name, n, min(max(1, baseline), n)
        self.rows: list = [("start", 0, rss_mb())]

    def after(self, done: int) -> None:
        if done in (self.baseline, max(self.baseline, self.n // 2), self.n) and done not in [r[1] for r in self.rows]:
            gc.collect()
            label = "end" if done == self.n else ("baseline" if done == self.baseline else "middle")
            self.rows.append((label, done, rss_mb()))

    def report(self, seconds: float) -> None:
        base = next((mb for label, _, mb in self.rows if label == "baseline"), self.rows[0][2])
        print(f"\n{self.name}: {self.n} scans in {seconds:.1f} s")
        print(f"  {'when':<9} {'scans':>6} {'RSS MB':>9} {'vs baseline':>12}")
        for label, done, mb in self.rows:
            print(f"  {label:<9} {done:>6} {mb:>9.0f} {100 * (mb / base - 1):>+11.1f} %")
        growth = self.rows[-1][2] / base - 1
        verdict = "OK" if growth <= TARGET_GROWTH else "GROWS"
        print(f"  growth after the baseline {100 * growth:+.1f} % (target <= {100 * TARGET_GROWTH:.0f} %): {verdict}")


def weights_folder(requested: Path | None) -> Path:
    from model import DEFAULT_WEIGHTS_DIR

    folder = requested or DEFAULT_WEIGHTS_DIR
    if requested is None and not (folder / "model_card.json").is_file():
        import torch

        from model.checkpoint import new_card, save_weights
        from model.network import resnet10

        torch.manual_seed(0)
        folder = Path(_TMP) / "random-weights"
        save_weights(folder, resnet10(), new_card("bench-random", "0", demonstration=True))
        print(f"no weights at {DEFAULT_WEIGHTS_DIR}; using random weights")
    return folder


def score_phase(scans: list[Path], weights: Path, device: str, baseline: int) -> None:
    from model.bids import discover
    from model.checkpoint import load_weights
    from model.inference import select_device
    from model.score import score_steps

    loaded = load_weights(weights, select_device(device))
    names = {p.name for p in scans}
    entries = [e for e in discover(scans[0].parent) if e.relpath in names]
    marks = Marks("scoring (model.score.score_steps)", len(entries), baseline)
    t0 = time.perf_counter()
    steps = score_steps(entries, loaded)
    failed = 0
    for event in steps:
        failed += event.row.get("status") == "failed"
        marks.after(event.done)
    marks.report(time.perf_counter() - t0)
    if failed:
        print(f"  ({failed} scans failed to score)")
    del loaded, steps
    gc.collect()


def open_phase(scans: list[Path], weights: Path, device: str, baseline: int, analyse: bool) -> None:
    from PyQt6.QtCore import QEventLoop, QTimer
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - kept alive for the phase
    from viewer.app import configure_pyqtgraph

    configure_pyqtgraph()
    from viewer.main_window import MainWindow

    def wait_for(*signals, timeout_ms=300_000):
        loop = QEventLoop()
        for signal in signals:
            signal.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
        for signal in signals:
            signal.disconnect(loop.quit)

    window = MainWindow(weights_dir=weights, device=device)
    window.resize(1500, 900)
    window.show()
    what = "opening" + (" and analysing" if analyse else "") + " in the main window"
    marks = Marks(what, len(scans), baseline)
    t0 = time.perf_counter()
    for i, path in enumerate(scans, start=1):
        window.open_path(path)
        wait_for(window.scan_loaded, window.scan_failed)
        if analyse and window.start_analysis() is not None:
            wait_for(window.analysis_finished, window.analysis_stopped)
        app.processEvents()
        marks.after(i)
    marks.report(time.perf_counter() - t0)
    window.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--score", type=int, default=200, help="scans scored with model.score (0: skip)")
    ap.add_argument("--open", type=int, default=50, help="scans opened in the app one after another (0: skip)")
    ap.add_argument("--distinct", type=int, default=8, help="different phantoms behind the files")
    ap.add_argument("--baseline", type=int, default=3, help="scans after which the baseline is taken")
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--analyse", action="store_true", help="also analyse every scan opened in the app")
    args = ap.parse_args()
    if args.score < 0 or args.open < 0 or args.distinct < 1:
        ap.error("--score and --open must be >= 0, --distinct >= 1")
    folder = Path(_TMP)
    try:
        t = time.perf_counter()
        n = max(args.score, args.open)
        scans = make_scans(folder, n, min(args.distinct, max(1, n)))
        print(
            f"{n} scan files ({min(args.distinct, max(1, n))} distinct phantoms) made in "
            f"{time.perf_counter() - t:.1f} s; RSS {rss_mb():.0f} MB; cores {os.cpu_count()}"
        )
        weights = weights_folder(args.weights)
        if args.score:
            score_phase(scans[: args.score], weights, args.device, args.baseline)
        if args.open:
            open_phase(scans[: args.open], weights, args.device, args.baseline, args.analyse)
        print(f"\npeak RSS of the run {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
