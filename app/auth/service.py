"""Password sign-in as a service: look up, verify, apply the rules, count failures, audit."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Optional

from flask import current_app, session
from flask_login import login_user
from sqlalchemy import select, update

from .. import audit, clock
from ..extensions import db
from ..models import PasswordPolicy, User
from ..passwords import verify_password
from ..security import hit_rate_limit
from . import rules

RATE_LIMITED = "rate_limited"
# Lockout settings for accounts without a tenant policy (the service provider's).
DEFAULT_MAX_FAILED = 5
DEFAULT_LOCKOUT_MINUTES = 15


@dataclass
class Outcome:
    """What a sign-in attempt came to: the decision and the user it concerns (if any)."""

    decision: rules.Decision
    user: Optional[User]


def find_user_by_login(login: str) -> Optional[User]:
    """The user with this login, case-insensitively."""
    return db.session.scalars(select(User).where(User.login_key == login.strip().lower())).first()


def policy_for(user: Optional[User]) -> Optional[PasswordPolicy]:
    """The tenant's password policy (None for service-provider accounts)."""
    if user is None or user.tenant_id is None:
        return None
    return db.session.scalars(
        select(PasswordPolicy).where(PasswordPolicy.tenant_id == user.tenant_id)
    ).first()


def password_sign_in(login: str, password: str, client_addr: str) -> Outcome:
    """Decide a password sign-in and record it; the caller commits and shows one message."""
    cfg = current_app.config
    if hit_rate_limit(f"login:{client_addr}", cfg["LOGIN_RATE_LIMIT"], cfg["LOGIN_RATE_WINDOW_SECONDS"]):
        decision = rules.Decision(False, RATE_LIMITED, "Too many sign-in attempts from this address.")
        audit.record("sign_in.refused", tenant_id=None, target_label=login[:150],
                     details={"method": "password", "reason": RATE_LIMITED})
        return Outcome(decision, None)
    user = find_user_by_login(login)
    stored_hash = user.password_hash if user else None
    # Keep the attempt's count and end the transaction: SQLite's write lock must not be held
    # through the deliberately slow hash, or sign-ins queue behind each other.
    db.session.commit()
    # Always verify (a dummy hash when the login is unknown): timing must not reveal accounts.
    password_ok = verify_password(stored_hash, password)
    policy = policy_for(user)  # the user is read again: a change meanwhile (disabled…) counts
    now = clock.now()
    decision = rules.password_sign_in(user, policy, password_ok, now)
    if decision.reason == rules.BAD_PASSWORD:
        _count_failure(user, policy, now)
    elif decision.allowed:
        db.session.execute(update(User).where(User.id == user.id).values(failed_logins=0,
                                                                         locked_until=None))
    details = {"method": "password", "reason": decision.reason}
    if user is None:
        details["login"] = login[:150]
    audit.record("sign_in.password" if decision.allowed else "sign_in.refused",
                 tenant_id=user.tenant_id if user else None, target=user, actor=user,
                 target_label=(user.login if user else login[:150]), details=details)
    return Outcome(decision, user)


def _count_failure(user: User, policy: Optional[PasswordPolicy], now: dt.datetime) -> None:
    """Count a wrong password atomically; lock the account when the policy's limit is reached.

    Plain UPDATEs, not ORM changes: failures must not bump the row version an admin is editing.
    """
    limit = policy.max_failed_attempts if policy else DEFAULT_MAX_FAILED
    minutes = policy.lockout_minutes if policy else DEFAULT_LOCKOUT_MINUTES
    db.session.execute(update(User).where(User.id == user.id)
                       .values(failed_logins=User.failed_logins + 1))
    count = db.session.scalar(select(User.failed_logins).where(User.id == user.id))
    if limit and count >= limit:
        db.session.execute(update(User).where(User.id == user.id).values(
            failed_logins=0, locked_until=now + dt.timedelta(minutes=minutes)))
        audit.record("user.locked", tenant_id=user.tenant_id, target=user, actor=user,
                     details={"failed_attempts": count, "minutes": minutes})


def start_session(user: User, method: str) -> None:
    """Sign the user in on a fresh session (no fixation) and note when and how."""
    session.clear()
    login_user(user)
    now = clock.now()
    session["auth_method"] = method
    session["_started"] = session["_seen"] = now.timestamp()
    db.session.execute(update(User).where(User.id == user.id).values(last_login_at=now))
