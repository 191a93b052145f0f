"""What every controller may use of the main window: the small typed interface they share.

Each controller module declares its own ``...Host`` Protocol, extending :class:`WindowHost` with
exactly what it drives (the result panel, the recent-files menu, the audit recorder...), and is
given the window as that Protocol. So no controller imports :mod:`viewer.main_window` (which
imports them): the window satisfies every Protocol structurally, and a controller can be read and
tested with any object that has these members (the batch dialog's
:class:`viewer.batch.host.BatchHost` is the same pattern).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PyQt6.QtWidgets import QStatusBar

    from viewer.services.feedback import Feedback
    from viewer.services.job_runner import JobRunner
    from viewer.services.settings import Settings
    from viewer.state import ViewerState


class WindowHost(Protocol):
    """The window's shared services: state, settings, feedback, workers, the audit log's path.

    Attributes
    ----------
    state : viewer.state.ViewerState
        What is shown (scan, cursor, result, the reader's impression and decision).
    settings : viewer.services.settings.Settings
        What persists (folders, reader name, reader-first, the site key).
    feedback : viewer.services.feedback.Feedback
        One-line errors and status messages.
    jobs : viewer.services.job_runner.JobRunner
        Keeps worker threads alive and stops them on close.
    audit_path : pathlib.Path
        The audit log (JSON lines) of this window.
    """

    state: ViewerState
    settings: Settings
    feedback: Feedback
    jobs: JobRunner
    audit_path: Path

    def show_error(self, title: str, message: str) -> None: ...

    def statusBar(self) -> QStatusBar: ...  # noqa: N802 - Qt API
