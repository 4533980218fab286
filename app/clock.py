"""The one clock of the app: tests set it; valid-till, lockouts and expiry read it."""
from __future__ import annotations

import datetime as dt

_frozen: dt.datetime | None = None


def now() -> dt.datetime:
    """Current time as naive UTC (how every timestamp is stored)."""
    if _frozen is not None:
        return _frozen
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def today() -> dt.date:
    """Current UTC date (valid till is compared with it, inclusively)."""
    return now().date()


def freeze(at: dt.datetime | None) -> None:
    """Fix the clock at a naive-UTC time, or release it with None (tests only)."""
    global _frozen
    _frozen = at
