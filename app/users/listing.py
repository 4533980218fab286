"""The users list: keyset pages over an indexed sort key, search, and a capped count.

No OFFSET (page 1,000 costs what page 1 costs) and no full count per page (DESIGN §8): a page
is "the rows after (or before) this row", and the total is counted only up to COUNT_CAP.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from ..extensions import db
from ..models import LinkedAccount, User
from . import search

COUNT_CAP = 10_000


@dataclass(frozen=True)
class SortKey:
    """A sortable column of the list and the indexed expression behind it."""

    name: str
    label: str
    expr: Any
    nullable: bool = False
    default_desc: bool = False


SORTS = {
    "login": SortKey("login", "Login", User.login_key),
    "name": SortKey("name", "Name", func.lower(User.display_name)),
    "email": SortKey("email", "Email", User.email_key),
    "last_sign_in": SortKey("last_sign_in", "Last sign-in", User.last_login_at, nullable=True,
                            default_desc=True),
}


@dataclass(frozen=True)
class Position:
    """Where a row sits in the order: segment (0 = has a value, 1 = no value), value, id."""

    seg: int
    value: Any
    id: int


@dataclass
class ListRequest:
    """What the list was asked for (from the query string)."""

    q: str = ""
    sort: str = "login"
    desc: bool = False
    after: Optional[Position] = None
    before: Optional[Position] = None
    last: bool = False
    number: Optional[int] = 1


@dataclass
class UserPage:
    """One page of users, how to reach the neighbours, and what is known of the total."""

    items: list[User]
    request: ListRequest
    has_prev: bool
    has_next: bool
    first: Optional[str] = None  # cursor of the first row
    last: Optional[str] = None  # cursor of the last row
    total: Optional[int] = None  # exact, when at most the cap
    total_capped: bool = False  # True: more than `total` rows
    search_mode: str = ""
    linked_ids: set[int] = field(default_factory=set)


def encode(pos: Position) -> str:
    """A URL-safe cursor for a position."""
    value = pos.value.isoformat() if isinstance(pos.value, dt.datetime) else pos.value
    raw = json.dumps([pos.seg, value, pos.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: Optional[str], key: SortKey) -> Optional[Position]:
    """The position of a cursor; junk or a cursor of another sort gives None (the first page)."""
    if not token:
        return None
    try:
        seg, value, ident = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if seg not in (0, 1) or not isinstance(ident, int) or (seg == 1 and not key.nullable):
            return None
        if seg == 0 and key.nullable:
            value = dt.datetime.fromisoformat(value)
        elif seg == 0 and not isinstance(value, str):
            return None
        return Position(seg, None if seg == 1 else value, ident)
    except (ValueError, TypeError):
        return None


def parse_request(args: Any) -> ListRequest:
    """A ListRequest from request.args; anything unexpected falls back to the defaults."""
    sort = args.get("sort") if args.get("sort") in SORTS else "login"
    key = SORTS[sort]
    direction = args.get("dir")
    desc = key.default_desc if direction not in ("asc", "desc") else direction == "desc"
    try:
        number = max(1, min(int(args.get("page", 1)), 10_000_000))
    except (TypeError, ValueError):
        number = 1
    req = ListRequest(q=search.clean_term(args.get("q")), sort=sort, desc=desc,
                      after=decode(args.get("after"), key), before=decode(args.get("before"), key),
                      last=args.get("last") == "1", number=number)
    if req.last:
        req.after = req.before = None
        req.number = None
    elif not (req.after or req.before):
        req.number = 1
    return req


def _ordered(expr: Any, desc: bool):
    """expr ascending or descending."""
    return expr.desc() if desc else expr.asc()


def _beyond(expr: Any, pos: Position, later: bool) -> ColumnElement[bool]:
    """Rows strictly later (or earlier) than pos in ascending (value, id) order.

    Spelled `value >= v AND (value > v OR id > i)` rather than a row-value comparison: both
    SQLite and PostgreSQL turn the first term into an index range, so a deep page seeks.
    """
    if later:
        return and_(expr >= pos.value, or_(expr > pos.value, User.id > pos.id))
    return and_(expr <= pos.value, or_(expr < pos.value, User.id < pos.id))


def segment_query(base: Select, key: SortKey, desc: bool, pos: Optional[Position], forward: bool,
                  seg: int, limit: int) -> Select:
    """The rows of one segment (0: with a sort value, 1: without) next to pos, in walking order."""
    stmt = base.add_columns(key.expr.label("sort_value"))
    if key.nullable:
        stmt = stmt.where(key.expr.is_not(None) if seg == 0 else key.expr.is_(None))
    if pos is not None and pos.seg == seg:
        later = forward != desc  # walking forward in a descending order goes down the index
        stmt = stmt.where(_beyond(key.expr, pos, later) if seg == 0
                          else (User.id > pos.id if later else User.id < pos.id))
    reverse = desc if forward else not desc
    order = [_ordered(key.expr, reverse)] if seg == 0 else []
    return stmt.order_by(*order, _ordered(User.id, reverse)).limit(limit)


def _fetch(base: Select, key: SortKey, desc: bool, pos: Optional[Position], forward: bool,
           limit: int) -> list[tuple[User, Any]]:
    """Up to `limit` rows next to pos (exclusive) walking forward or backward; nulls come last."""
    segments = [0, 1] if key.nullable else [0]
    if not forward:
        segments.reverse()
    rows: list[tuple[User, Any]] = []
    for seg in segments:
        if pos is not None and (seg < pos.seg if forward else seg > pos.seg):
            continue  # segments on the other side of the position
        stmt = segment_query(base, key, desc, pos, forward, seg, limit - len(rows))
        rows += list(db.session.execute(stmt).tuples())
        if len(rows) >= limit:
            break
    return rows if forward else list(reversed(rows))


def _position(key: SortKey, row: tuple[User, Any]) -> Position:
    """The position of a fetched row (its sort value as the database computed it)."""
    user, value = row
    return Position(1 if value is None else 0, value, user.id)


def capped_count(base: Select, cap: int) -> int:
    """How many rows base selects, counting at most cap + 1 of them (cheap on any size)."""
    limited = base.with_only_columns(User.id).order_by(None).limit(cap + 1).subquery()
    return db.session.scalar(select(func.count()).select_from(limited)) or 0


def linked_user_ids(ids: list[int]) -> set[int]:
    """Which of these users (the ids of a tenant-scoped page) have a linked Microsoft account.

    Asked of linked_account's user_id index alone: joining back to the tenant's users made
    SQLite walk the tenant's whole user index (a few ms per page at 100,000 users).
    """
    if not ids:
        return set()
    return set(db.session.scalars(select(LinkedAccount.user_id).where(LinkedAccount.user_id.in_(ids))))


def users_page(base: Select, tenant_id: int, req: ListRequest, per_page: int) -> UserPage:
    """One page of the tenant's users: `base` is the tenant-scoped select(User)."""
    key = SORTS[req.sort]
    stmt, mode, total, capped = base, "", None, False
    if req.q:
        found = search.user_filter(req.q, tenant_id)
        stmt, mode = base.where(found.clause), found.mode
        if found.broad:
            total, capped = search.SELECTIVE_LIMIT, True
        elif found.known_count is not None:
            total = found.known_count
    if total is None:
        total = capped_count(stmt, COUNT_CAP)
        total, capped = min(total, COUNT_CAP), total > COUNT_CAP
    forward = not (req.before or req.last)
    pos = req.after if forward else req.before
    rows = _fetch(stmt, key, req.desc, pos, forward, per_page + 1)
    more = len(rows) > per_page
    rows = rows[:per_page] if forward else rows[-per_page:] if more else rows
    has_prev = (pos is not None) if forward else more
    has_next = more if forward else not req.last
    if not has_prev:
        req.number = 1
    page = UserPage([u for u, _ in rows], req, has_prev, has_next, total=total,
                    total_capped=capped, search_mode=mode)
    if rows:
        page.first, page.last = encode(_position(key, rows[0])), encode(_position(key, rows[-1]))
    page.linked_ids = linked_user_ids([u.id for u in page.items])
    return page
