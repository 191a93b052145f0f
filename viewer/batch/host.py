"""What the batch dialog needs of the main window: :class:`BatchHost`, a small typed interface.

The dialog (:mod:`viewer.batch.dialog`) and the case opener (:mod:`viewer.batch.case`) are given
the window as a ``BatchHost`` and never import :mod:`viewer.main_window`, so the batch package can
be read and tested with any object that has these members.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PyQt6.QtCore import QObject, pyqtBoundSignal

    from viewer.services.blinding import Blinding
    from viewer.services.model_provider import ModelProvider


class BatchHost(Protocol):
    """The small typed interface between the batch dialog and the main window.

    The dialog reads which model to use from ``models`` (the shared
    :class:`viewer.services.model_provider.ModelProvider`), opens a double-clicked case with ``open_path``,
    waits for ``scan_loaded``/``scan_failed``, then starts ``start_analysis`` once not ``busy``.
    The worklist shows AI results only as the session's ``blinding`` allows (reader-first mode).
    It is also the dialog's Qt parent (closing it stops the batch: ``installEventFilter``).
    """

    models: ModelProvider
    blinding: Blinding
    scan_loaded: pyqtBoundSignal
    scan_failed: pyqtBoundSignal
    busy_changed: pyqtBoundSignal

    @property
    def busy(self) -> bool: ...

    def open_path(self, path: str | Path) -> object: ...

    def start_analysis(self) -> object: ...

    def raise_(self) -> None: ...

    def activateWindow(self) -> None: ...  # noqa: N802 - Qt API

    def installEventFilter(self, obj: QObject) -> None: ...  # noqa: N802 - Qt API
