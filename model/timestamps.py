"""UTC timestamps, one format everywhere: ISO 8601 with seconds and an explicit ``+00:00`` offset.

Used by the audit log, the model card, the worklist and the PDF report (standard library
:mod:`datetime`; time zone aware, never naive local time).
"""

from __future__ import annotations

from datetime import datetime, timezone


def utc_now() -> str:
    """Current UTC time as ISO 8601 with seconds, e.g. ``2025-01-31T14:03:07+00:00``."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
