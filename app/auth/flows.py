"""Pending round trips to Microsoft, stored server-side and tied to one browser session.

The flow (state, nonce, PKCE verifier) lives in the database, keyed by its state; the browser
only holds a random key in its session cookie. A callback whose state matches no flow of this
browser is refused, and a flow is used once.
"""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Optional

from flask import session
from sqlalchemy import delete, select

from .. import clock
from ..extensions import db
from ..models import AuthFlow

BROWSER_KEY = "_bk"
FLOW_MINUTES = 15
# Purposes a round trip can have; the callback dispatches on these.
SIGN_IN = "sign_in"
CONNECT = "connect"
LINK = "link"
ADMIN_CONSENT = "admin_consent"


def browser_key() -> str:
    """This browser session's random key (created on first use)."""
    key = session.get(BROWSER_KEY)
    if not key:
        key = session[BROWSER_KEY] = secrets.token_urlsafe(24)
    return key


def save(purpose: str, integration_id: int, flow: Optional[dict], context: dict[str, Any],
         state: Optional[str] = None) -> str:
    """Store a flow (or, for admin consent, just a state) and return its state."""
    state = state or (flow or {}).get("state") or secrets.token_urlsafe(24)
    now = clock.now()
    db.session.execute(delete(AuthFlow).where(AuthFlow.expires_at < now))
    db.session.add(AuthFlow(state=state, browser_key=browser_key(), purpose=purpose,
                            integration_id=integration_id,
                            payload={"flow": flow, "context": context},
                            created_at=now, expires_at=now + dt.timedelta(minutes=FLOW_MINUTES)))
    return state


def take(state: Optional[str]) -> Optional[AuthFlow]:
    """Remove and return the flow with this state if it belongs to this browser and is fresh."""
    key = session.get(BROWSER_KEY)
    if not state or not key or len(state) > 128:
        return None
    row = db.session.scalars(select(AuthFlow).where(AuthFlow.state == state)).first()
    if row is None:
        return None
    if row.browser_key != key:
        return None  # another browser's flow: leave it, refuse this one
    db.session.delete(row)
    if row.expires_at < clock.now():
        return None
    return row
