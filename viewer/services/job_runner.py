"""Runs the window's background jobs and keeps each alive until its thread has finished.

A service: the main window, its controllers and the batch dialog start every
:class:`viewer.services.worker.GeneratorWorker` through :meth:`JobRunner.launch`, and closing the window
stops them all in one place (:meth:`JobRunner.stop_all`).
"""

from __future__ import annotations

import logging

from viewer.services.worker import GeneratorWorker

log = logging.getLogger(__name__)


class JobRunner:
    """Starts workers and holds a reference until each has finished (Qt must not collect a running thread)."""

    def __init__(self) -> None:
        self.workers: set[GeneratorWorker] = set()

    def launch(self, worker: GeneratorWorker) -> GeneratorWorker:
        """Start ``worker``; it is forgotten once its thread has finished."""
        self.workers.add(worker)
        worker.finished.connect(lambda: (worker.wait(), self.workers.discard(worker)))
        worker.start()
        return worker

    def stop_all(self, wait_ms: int) -> None:
        """Cancel every running worker and wait up to ``wait_ms`` for each to stop (logged if not)."""
        for worker in list(self.workers):
            worker.cancel()
        for worker in list(self.workers):
            if not worker.wait(wait_ms):
                log.error("%s did not stop within %d ms", worker.objectName(), wait_ms)
