"""Response headers, safe redirects, session lifetimes and a rate limit shared by all workers."""
from __future__ import annotations

import datetime as dt
from urllib.parse import unquote, urlsplit

from flask import Flask, request, session
from sqlalchemy import select

from . import clock
from .extensions import db
from .models import RateLimit

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    """Register the headers and the session lifetime checks."""

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        # No page of the portal needs to tell another site where the user came from; the
        # OAuth callback's URL carries a code that must not leak through Referer.
        response.headers["Referrer-Policy"] = "no-referrer"
        if request.endpoint and request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def safe_next(target: str | None, default: str = "/") -> str:
    """Return target only if it is a path on this site; anything else falls back to default."""
    if not target:
        return default
    decoded = target
    for _ in range(3):  # encoded forms such as %2F%2Fevil must not slip through
        decoded = unquote(decoded)
    candidates = (target, decoded)
    for value in candidates:
        if any(ch in value for ch in ("\\", "\r", "\n", "\t")) or any(ord(c) < 32 for c in value):
            return default
        parts = urlsplit(value)
        if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
            return default
    return target


def session_expired(now: dt.datetime, idle_minutes: int, absolute: dt.timedelta | int) -> bool:
    """Check and refresh the signed-in session's idle and absolute lifetimes."""
    stamp = now.timestamp()
    started = session.get("_started")
    seen = session.get("_seen")
    if started is None or seen is None:
        session["_started"] = session["_seen"] = stamp
        return False
    if stamp - seen > idle_minutes * 60 or stamp - started > _seconds(absolute):
        return True
    if stamp - seen > 30:  # avoid rewriting the cookie on every request
        session["_seen"] = stamp
    return False


def _seconds(value: dt.timedelta | int | float) -> float:
    """A lifetime from config: a timedelta, or seconds (as environment variables give it)."""
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def hit_rate_limit(key: str, limit: int, window_seconds: int) -> bool:
    """Count one attempt for key; True when the limit for the current window is exceeded.

    Stored in the database (committed by the caller's transaction) so several workers and
    servers share one count.
    """
    now = clock.now()
    row = db.session.scalars(select(RateLimit).where(RateLimit.key == key)).first()
    if row is None:
        row = RateLimit(key=key, window_start=now, count=0)
        db.session.add(row)
    elif (now - row.window_start).total_seconds() >= window_seconds:
        row.window_start, row.count = now, 0
    row.count += 1
    return row.count > limit
