"""Reading the audit log: filters, keyset pages (newest first) and plain-words details."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from sqlalchemy import Select, func, or_, select

from ..access import scoped
from ..auth.rules import EXPLANATIONS
from ..extensions import db
from ..models import AUTH_TYPE_LABELS, SSO_MODE_LABELS, AuditEvent

# Friendly names for fields that appear in before/after details.
FIELD_LABELS = {
    "sso_mode": "Single Sign-On", "restricted_domains": "Restricted domains",
    "min_length": "Minimum password length", "require_upper": "Require an upper-case letter",
    "require_lower": "Require a lower-case letter", "require_digit": "Require a digit",
    "require_symbol": "Require a symbol", "max_failed_attempts": "Failed attempts before lockout",
    "lockout_minutes": "Lockout duration (minutes)", "totp_enabled": "2-step verification",
    "auth_type": "Authentication type", "web_access": "Web portal access", "valid_till": "Valid till",
    "require_2fa": "Require 2-step verification", "email": "Email", "login": "Login", "role": "Role",
    "display_name": "Name", "name": "Name", "slug": "Slug",
}
METHOD_LABELS = {"password": "Password", "microsoft": "Microsoft"}


@dataclass
class Filters:
    """What the administrator asked to see."""

    action: str = ""
    actor: str = ""
    user: str = ""
    date_from: Optional[dt.date] = None
    date_to: Optional[dt.date] = None
    installation: bool = False
    errors: dict[str, str] = field(default_factory=dict)

    def as_args(self) -> dict[str, str]:
        """The filters as query-string values (for the paging links)."""
        args = {"action": self.action, "actor": self.actor, "user": self.user,
                "date_from": self.date_from.isoformat() if self.date_from else "",
                "date_to": self.date_to.isoformat() if self.date_to else "",
                "scope": "installation" if self.installation else ""}
        return {k: v for k, v in args.items() if v}


def _date(raw: str, name: str, errors: dict[str, str]) -> Optional[dt.date]:
    """A yyyy-mm-dd date, or None (noting the error when something unreadable was typed)."""
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[name] = "Enter a date as yyyy-mm-dd."
        return None


def parse_filters(args: Mapping[str, str], *, may_see_installation: bool) -> Filters:
    """Read the filter form; a bad date is reported and ignored, never an error page."""
    errors: dict[str, str] = {}
    f = Filters(action=(args.get("action") or "").strip()[:60], actor=(args.get("actor") or "").strip()[:200],
                user=(args.get("user") or "").strip()[:255],
                date_from=_date(args.get("date_from", ""), "date_from", errors),
                date_to=_date(args.get("date_to", ""), "date_to", errors),
                installation=may_see_installation and args.get("scope") == "installation", errors=errors)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        errors["date_to"] = "The end date is before the start date."
    return f


def _prefix(value: str) -> str:
    """A case-insensitive LIKE pattern for "starts with", with wildcards escaped."""
    return value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def base_query(installation: bool) -> Select:
    """The current tenant's events, or (service provider only) the installation-wide ones."""
    if installation:
        return select(AuditEvent).where(AuditEvent.tenant_id.is_(None))
    return scoped(AuditEvent)


def filtered(f: Filters) -> Select:
    """The query for these filters (no order or limit yet)."""
    stmt = base_query(f.installation)
    if f.action:
        # "sign_in" also finds sign_in.password, sign_in.refused, ...
        stmt = stmt.where(or_(AuditEvent.action == f.action,
                              AuditEvent.action.like(_prefix(f.action)[:-1] + ".%", escape="\\")))
    if f.actor:
        stmt = stmt.where(func.lower(AuditEvent.actor_label).like(_prefix(f.actor), escape="\\"))
    if f.user:
        stmt = stmt.where(func.lower(AuditEvent.target_label).like(_prefix(f.user), escape="\\"))
    if f.date_from:
        stmt = stmt.where(AuditEvent.created_at >= dt.datetime.combine(f.date_from, dt.time()))
    if f.date_to:
        stmt = stmt.where(AuditEvent.created_at < dt.datetime.combine(f.date_to + dt.timedelta(days=1), dt.time()))
    return stmt


@dataclass
class KeysetPage:
    """One page, newest first, with cursors to the newer and older neighbours."""

    items: list[AuditEvent]
    newer: Optional[int] = None
    older: Optional[int] = None


def _position(event_id: int):
    """(created_at, id) of the event a cursor names, or None."""
    return db.session.execute(select(AuditEvent.created_at, AuditEvent.id).where(AuditEvent.id == event_id)).first()


def page(stmt: Select, *, before: Optional[int], after: Optional[int], size: int) -> KeysetPage:
    """Keyset paging, newest first, on (created_at, id): no OFFSET walk and no count."""
    # That order is the index ix_audit_event_tenant_time (SQLite keeps the rowid in every index),
    # so page 1,000 costs what page 1 does; ordering by id alone would sort the tenant's whole log.
    # A cursor is an event id; the `created_at <= t` half of each condition lets the index seek.
    newest_first = (AuditEvent.created_at.desc(), AuditEvent.id.desc())
    pos = _position(after) if after is not None else None
    if pos is not None:
        rows = list(db.session.scalars(
            stmt.where(AuditEvent.created_at >= pos.created_at,
                       or_(AuditEvent.created_at > pos.created_at, AuditEvent.id > pos.id))
            .order_by(AuditEvent.created_at.asc(), AuditEvent.id.asc()).limit(size + 1)))
        items = list(reversed(rows[:size]))
        return KeysetPage(items, newer=items[0].id if len(rows) > size else None,
                          older=items[-1].id if items else None)
    pos = _position(before) if before is not None else None
    if pos is not None:
        stmt = stmt.where(AuditEvent.created_at <= pos.created_at,
                          or_(AuditEvent.created_at < pos.created_at, AuditEvent.id < pos.id))
    rows = list(db.session.scalars(stmt.order_by(*newest_first).limit(size + 1)))
    items = rows[:size]
    return KeysetPage(items, newer=items[0].id if pos is not None and items else None,
                      older=items[-1].id if len(rows) > size else None)


def known_actions(installation: bool) -> list[str]:
    """Action names present in this scope, for the filter's suggestions."""
    stmt = base_query(installation).with_only_columns(AuditEvent.action).distinct().order_by(AuditEvent.action)
    return list(db.session.scalars(stmt.limit(200)))


def _show(name: str, value: Any) -> str:
    """A detail value in plain words."""
    if value is None or value == "" or value == []:
        return "—" if name != "restricted_domains" else "none"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if name == "sso_mode":
        return SSO_MODE_LABELS.get(value, str(value))
    if name == "auth_type":
        return AUTH_TYPE_LABELS.get(value, str(value))
    return str(value)


def describe(event: AuditEvent) -> dict[str, Any]:
    """What the template shows for an event: a before/after table, a sign-in decision, other facts."""
    details = dict(event.details or {})
    before, after = details.pop("before", None), details.pop("after", None)
    out: dict[str, Any] = {"changes": [], "decision": None, "other": []}
    if isinstance(before, dict) or isinstance(after, dict):
        before, after = before or {}, after or {}
        for key in list(dict.fromkeys([*before, *after])):
            out["changes"].append((FIELD_LABELS.get(key, key), _show(key, before.get(key)), _show(key, after.get(key))))
    if "reason" in details:
        reason = details.pop("reason")
        method = details.pop("method", "")
        out["decision"] = {"method": METHOD_LABELS.get(method, method), "reason": reason,
                           "explanation": EXPLANATIONS.get(reason, "")}
    out["other"] = [(FIELD_LABELS.get(k, k), _show(k, v) if not isinstance(v, dict) else
                     ", ".join(f"{ik}: {_show(ik, iv)}" for ik, iv in v.items())) for k, v in details.items()]
    return out
