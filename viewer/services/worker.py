"""Run a plain generator in a QThread: progress, result, one-line failure, cancel.

The pattern is superqt's ``GeneratorWorker`` / napari's ``thread_worker``: the work is an ordinary
generator that yields progress and returns its value; the worker iterates it in its own thread,
checks for cancellation between steps and, when asked to stop, closes the generator (so its
``finally`` blocks and context managers, e.g. Grad-CAM hooks, run in the thread that owns them).

Every exception stops at the worker boundary: a :class:`model.errors.GloResNetError` becomes its
own one-line message; anything else is logged with its traceback and reported as one line.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Generator

from PyQt6.QtCore import QThread, pyqtSignal

from model.errors import GloResNetError

log = logging.getLogger(__name__)

#: Longest message shown to the user for an unexpected error.
MAX_MESSAGE_CHARS = 300


def one_line(exc: BaseException) -> str:
    """A one-line, reader-facing description of an exception (never a traceback)."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    if not isinstance(exc, GloResNetError):
        first = f"Unexpected error ({type(exc).__name__}){': ' + first if first else ''}"
    if len(first) > MAX_MESSAGE_CHARS:
        first = first[: MAX_MESSAGE_CHARS - 1] + "…"
    return first


class GeneratorWorker(QThread):
    """Iterate ``make_generator()`` in a worker thread.

    Parameters
    ----------
    make_generator : callable
        Called in the worker thread; returns a generator that yields objects with ``fraction``
        and ``message`` (``model.inference.Progress``) and returns the job's value.
    name : str
        For logs.

    Signals (delivered in the GUI thread, in this order; exactly one of the last three)
    -------
    progressed(float, str)
        Fraction done and a message, for every step yielded.
    returned(object)
        The generator's return value.
    failed(str)
        One-line message of the exception that ended the job.
    cancelled()
        The job stopped because :meth:`cancel` was called (its value, if any, is discarded).
    ``finished`` (QThread's own) follows when the thread has ended.
    """

    progressed = pyqtSignal(float, str)
    returned = pyqtSignal(object)
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()

    def __init__(self, make_generator: Callable[[], Generator], name: str = "job", parent=None):
        super().__init__(parent)
        self._make_generator = make_generator
        self._stop = threading.Event()
        self.name = name
        self.setObjectName(f"GeneratorWorker[{name}]")

    def cancel(self) -> None:
        """Ask the job to stop at its next step (returns at once; watch ``cancelled``)."""
        self._stop.set()

    @property
    def cancel_requested(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:  # noqa: D102 - QThread entry point, runs in the worker thread
        gen = None
        try:
            gen = self._make_generator()
            while True:
                if self._stop.is_set():
                    gen.close()
                    self.cancelled.emit()
                    return
                try:
                    step = next(gen)
                except StopIteration as stop:
                    if self._stop.is_set():
                        self.cancelled.emit()
                    else:
                        self.returned.emit(stop.value)
                    return
                self.progressed.emit(float(getattr(step, "fraction", 0.0)), str(getattr(step, "message", "")))
        except GloResNetError as exc:
            log.warning("%s failed: %s", self.name, exc)
            self.failed.emit(one_line(exc))
        except Exception as exc:  # noqa: BLE001 - the worker boundary: report, never crash the app
            log.exception("%s failed with an unexpected error", self.name)
            self.failed.emit(one_line(exc))
        finally:
            if gen is not None:
                gen.close()
