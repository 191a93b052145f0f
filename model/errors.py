"""Exception classes of the headless core.

Every error a user can cause (a bad scan, a bad weights folder) is one of these, carries the
offending path, and has a one-line message that the GUI and the command-line tools show as is.
"""

from __future__ import annotations

from pathlib import Path


class GloResNetError(Exception):
    """Base class: a problem the user can act on, with a one-line message."""


class ScanError(GloResNetError):
    """A scan file cannot be used: unreadable, wrong format, wrong dimensionality or bad values.

    Parameters
    ----------
    path : str or Path
        The file the user gave.
    reason : str
        What is wrong with it, in words a reader understands.
    """

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class CheckpointError(GloResNetError):
    """A weights folder (safetensors + model card) is missing, inconsistent or tampered with."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class AnalysisCancelled(GloResNetError):
    """Raised inside an analysis generator when the caller asked it to stop."""
