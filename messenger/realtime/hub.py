"""The per-process hub (LISTEN connection + fan-out). Status reporting for /healthz."""
from __future__ import annotations

from typing import Any

_HUB: Any = None


def hub_status() -> dict[str, Any]:
    """State of this process's hub: not_started until the first stream subscribes."""
    if _HUB is None:
        return {"state": "not_started"}
    return _HUB.status()  # type: ignore[no-any-return]
