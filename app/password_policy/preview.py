"""Who can sign in: the lockout preview before a policy change, and the Check access report."""
# Both ask the rules module (app/auth/rules.py), so the pages say exactly what sign-in will do.
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from ..auth import rules
from ..auth.domains import email_domain
from ..extensions import db
from ..models import Connection, Integration, LinkedAccount, User

# A big tenant's preview names the first users and counts the rest.
PREVIEW_LIMIT = 50
_BATCH = 1000


@dataclass
class Affected:
    """One user a change would affect, and the rule that would stop them."""

    id: int
    login: str
    email: str
    display_name: str
    role: str
    reason: str
    message: str


@dataclass
class Group:
    """A count of affected users and the first PREVIEW_LIMIT of them (by login)."""

    count: int = 0
    users: list[Affected] = field(default_factory=list)

    @property
    def more(self) -> int:
        """How many are counted but not listed."""
        return self.count - len(self.users)


@dataclass
class Preview:
    """Users who would lose all access, and users who would lose only Microsoft sign-in."""

    locked_out: Group = field(default_factory=Group)
    microsoft_only: Group = field(default_factory=Group)


def connection_facts(tenant_id: int) -> list[dict[str, Any]]:
    """The tenant's connections as plain values the rules read (one query, no lazy loads)."""
    rows = db.session.execute(
        select(Connection.id, Connection.status, Connection.auto_activation, Connection.verified_domains,
               Connection.org_name, Integration.enabled, Integration.name)
        .join(Integration, Connection.integration_id == Integration.id)
        .where(Connection.tenant_id == tenant_id).order_by(Connection.id))
    return [{"id": r[0], "status": r[1], "auto_activation": r[2], "verified_domains": r[3] or [],
             "org_name": r[4], "integration_enabled": r[5], "integration_name": r[6]} for r in rows]


def _usable_ids(connections: list[dict[str, Any]]) -> list[int]:
    """Ids of the connections Microsoft sign-in can use (connected, integration enabled)."""
    return [c["id"] for c in connections if c["status"] == "connected" and c["integration_enabled"]]


def lockout_preview(tenant_id: int, before: dict[str, Any], after: dict[str, Any], now: dt.datetime,
                    limit: int = PREVIEW_LIMIT) -> Preview:
    """Every user of the tenant who could sign in under `before` but not under `after`."""
    # Rows stream in batches so a 100k-user tenant stays in memory bounds. Lockouts from failed
    # passwords are left out on purpose: they end by themselves.
    connections = connection_facts(tenant_id)
    usable = _usable_ids(connections)
    linked = set(db.session.scalars(
        select(LinkedAccount.user_id).where(LinkedAccount.connection_id.in_(usable)))) if usable else set()
    # Only what the rules read: names and emails are loaded afterwards for the listed few.
    stmt = (select(User.id, User.role, User.auth_type, User.web_access, User.valid_till,
                   User.password_hash.is_not(None), User.email_key)
            .where(User.tenant_id == tenant_id).order_by(User.login_key)
            .execution_options(yield_per=_BATCH))
    # Users alike in everything the rules read get the same answer, so each distinct profile is
    # decided once by the rules (a 100k-user tenant has few). The profile must hold every
    # attribute could_sign_in_today reads; locked_until is left out on purpose (see above).
    memo: dict[tuple, tuple[rules.Decision, rules.Decision]] = {}
    found: dict[str, list[tuple[int, rules.Decision]]] = {"locked_out": [], "microsoft_only": []}
    counts = {"locked_out": 0, "microsoft_only": 0}
    for uid, role, auth_type, web_access, valid_till, has_password, email in db.session.execute(stmt):
        has_link = uid in linked
        key = (role, auth_type, bool(web_access), valid_till, bool(has_password), email_domain(email), has_link)
        if key not in memo:
            profile = {"tenant_id": tenant_id, "role": role, "auth_type": auth_type, "web_access": web_access,
                       "valid_till": valid_till, "password_hash": has_password, "email": email}
            memo[key] = (rules.could_sign_in_today(profile, before, connections, has_link, now),
                         rules.could_sign_in_today(profile, after, connections, has_link, now))
        was, will = memo[key]
        if not was.allowed:
            continue
        if not will.allowed:
            group = "locked_out"
        elif was.data["microsoft"].allowed and not will.data["microsoft"].allowed:
            group = "microsoft_only"
        else:
            continue
        counts[group] += 1
        if len(found[group]) < limit:
            found[group].append((uid, will.data["microsoft"]))
    return Preview(_group(counts["locked_out"], found["locked_out"]),
                   _group(counts["microsoft_only"], found["microsoft_only"]))


def _group(count: int, listed: list[tuple[int, rules.Decision]]) -> Group:
    """A Group with the listed users' names and emails loaded (one query)."""
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_([uid for uid, _ in listed])))} \
        if listed else {}
    return Group(count, [Affected(uid, users[uid].login, users[uid].email, users[uid].display_name,
                                  users[uid].role, d.reason, d.message) for uid, d in listed])


@dataclass
class AccessReport:
    """The Check access page: both sign-in methods for one user, and the facts behind them."""

    user: User
    password: rules.Decision
    microsoft: rules.Decision
    links: list[dict[str, Any]]
    connections: list[dict[str, Any]]
    two_step: bool


def access_report(user: User, policy: Any, now: dt.datetime) -> AccessReport:
    """Could this user sign in today, with a password and with Microsoft, and by which rule."""
    connections = connection_facts(user.tenant_id) if user.tenant_id else []
    by_id = {c["id"]: c for c in connections}
    links = [{"org_name": by_id.get(la.connection_id, {}).get("org_name", ""),
              "email": la.email_at_link, "linked_at": la.linked_at, "last_used_at": la.last_used_at,
              "usable": la.connection_id in _usable_ids(connections)}
             for la in db.session.scalars(select(LinkedAccount).where(LinkedAccount.user_id == user.id)
                                          .order_by(LinkedAccount.id))]
    has_link = any(link["usable"] for link in links)
    return AccessReport(
        user=user,
        password=rules.could_use_password_today(user, policy, now),
        microsoft=rules.could_use_microsoft_today(user, policy, connections, has_link, now),
        links=links,
        connections=connections,
        two_step=rules.needs_totp(user, policy),
    )
