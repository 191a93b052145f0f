"""Opening a worklist case in the viewer, then analysing it there (a double-click in the batch dialog).

:class:`CaseOpener` talks to the main window only through :class:`viewer.batch.host.BatchHost`:
``open_path``, then on ``scan_loaded`` of that same file ``start_analysis`` (once any earlier
analysis has stopped); ``scan_failed`` becomes one line in the dialog. A scan opened meanwhile by
other means cancels the plan.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from viewer.batch.host import BatchHost


class CaseOpener:
    """Opens one case at a time in ``host`` and analyses it; ``say(text, error=False)`` reports."""

    def __init__(self, host: BatchHost, say: Callable[..., None]):
        self.host = host
        self.say = say
        self._pending_open: Path | None = None

    def open(self, path: Path) -> None:
        """Open ``path`` in the viewer and bring the viewer to the front; analysis follows when loaded."""
        host = self.host
        self._disconnect_pending()
        self._pending_open = path
        host.scan_loaded.connect(self._on_case_loaded)
        host.scan_failed.connect(self._on_case_failed)
        host.open_path(path)
        host.raise_()
        host.activateWindow()

    def _on_case_loaded(self, scan) -> None:
        expected = self._pending_open
        self._disconnect_pending()
        volume_path = getattr(scan.volume, "path", None)
        if expected is None or volume_path is None or Path(volume_path).resolve() != expected.resolve():
            return  # another scan was opened meanwhile
        self.say(f"Analysing {expected.name} in the viewer…")
        host = self.host
        if host.busy:  # an earlier analysis is still stopping: analyse once it has

            def when_idle(busy: bool):
                if not busy:
                    host.busy_changed.disconnect(when_idle)
                    host.start_analysis()

            host.busy_changed.connect(when_idle)
        else:
            host.start_analysis()

    def _on_case_failed(self, message: str) -> None:
        self._disconnect_pending()
        self.say(f"Cannot open the scan: {message}", error=True)

    def _disconnect_pending(self) -> None:
        if self._pending_open is None:
            return
        self._pending_open = None
        for signal, slot in (
            (self.host.scan_loaded, self._on_case_loaded),
            (self.host.scan_failed, self._on_case_failed),
        ):
            try:
                signal.disconnect(slot)
            except TypeError:
                pass  # already disconnected
