"""Contains-search over login, name and email for the users list.

SQLite: a trigram FTS5 index (migration 0002) finds the matching ids; elsewhere (PostgreSQL, or a
database made without the migration) a portable LIKE on the lower-cased keys does the same job.
This is the only module of the users area with SQLite-specific SQL (CONVENTIONS: one module).
"""
from __future__ import annotations

import unicodedata
import weakref
from dataclasses import dataclass
from typing import Any, Optional

from sqlalchemy import ColumnElement, Select, false, func, or_, and_, text
from sqlalchemy.engine import Engine

from ..extensions import db
from ..models import User

# FTS5's trigram tokenizer matches substrings of three characters or more.
MIN_TRIGRAM = 3
# Up to this many matches in a tenant are fetched by id and sorted; more than that is a broad
# term, better served by walking the sort index and testing each row (it finds a page quickly).
SELECTIVE_LIMIT = 2000
MAX_TERM = 100

_fts_present: "weakref.WeakKeyDictionary[Engine, bool]" = weakref.WeakKeyDictionary()

_FTS_IDS = text(
    # CROSS JOIN fixes the join order in SQLite: the index finds the rows, then the tenant filters.
    'SELECT u.id FROM user_fts CROSS JOIN "user" AS u ON u.id = user_fts.rowid '
    "WHERE user_fts MATCH :q AND u.tenant_id = :tenant_id LIMIT :limit"
)


@dataclass
class SearchFilter:
    """A WHERE clause for User and what is known about how many rows it matches."""

    clause: ColumnElement[bool]
    mode: str  # "fts" | "contains" | "prefix"
    known_count: Optional[int] = None  # exact number of matches in the tenant, when known
    broad: bool = False  # more than SELECTIVE_LIMIT matches


def clean_term(raw: Any) -> str:
    """The search text without control characters or surrounding spaces, at most MAX_TERM long."""
    value = "".join(ch for ch in str(raw or "") if unicodedata.category(ch) != "Cc")
    return value.strip()[:MAX_TERM]


def is_sqlite() -> bool:
    """True when the database is SQLite."""
    return db.engine.dialect.name == "sqlite"


def fts_available() -> bool:
    """True when the trigram index of migration 0002 exists (checked once per engine)."""
    engine = db.engine
    if engine not in _fts_present:
        present = False
        if engine.dialect.name == "sqlite":
            present = db.session.execute(text(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'user_fts'"
            )).first() is not None
        _fts_present[engine] = present
    return _fts_present[engine]


def user_filter(term: str, tenant_id: int) -> SearchFilter:
    """The filter for a (cleaned, non-empty) search term within one tenant."""
    needle = term.lower()
    if len(needle) < MIN_TRIGRAM:
        return SearchFilter(prefix_clause(needle), "prefix")
    if not fts_available():
        return SearchFilter(contains_clause(needle), "contains")
    ids = list(db.session.scalars(_FTS_IDS, {
        "q": fts_phrase(needle), "tenant_id": tenant_id, "limit": SELECTIVE_LIMIT + 1}))
    if len(ids) > SELECTIVE_LIMIT:
        return SearchFilter(contains_clause(needle), "contains", broad=True)
    clause = User.id.in_(ids) if ids else false()
    return SearchFilter(clause, "fts", known_count=len(ids))


def fts_phrase(needle: str) -> str:
    """One FTS5 phrase (a quoted string), so the term is matched as typed, operators and all."""
    return '"' + needle.replace('"', '""') + '"'


def _keys() -> tuple[ColumnElement, ...]:
    """The lower-cased columns a search looks at."""
    return User.login_key, User.email_key, func.lower(User.display_name)


def contains_clause(needle: str) -> ColumnElement[bool]:
    """Portable contains-search: the lower-cased keys LIKE '%needle%' (wildcards escaped)."""
    return or_(*(key.contains(needle, autoescape=True) for key in _keys()))


def prefix_clause(needle: str) -> ColumnElement[bool]:
    """Short terms match the beginning of login, name or email.

    On SQLite a range (key >= 'ab' AND key < 'ac') uses the (tenant, key) indexes, which LIKE
    cannot with the default case-sensitive collation; elsewhere LIKE 'ab%' is the portable form.
    """
    if not is_sqlite():
        return or_(*(key.startswith(needle, autoescape=True) for key in _keys()))
    upper = needle[:-1] + chr(ord(needle[-1]) + 1)
    return or_(*(and_(key >= needle, key < upper) for key in _keys()))


def explain(stmt: Select) -> list[str]:
    """SQLite's EXPLAIN QUERY PLAN for a statement, one line per step (tests, diagnostics)."""
    compiled = stmt.compile(dialect=db.engine.dialect, compile_kwargs={"render_postcompile": True})
    params = tuple(compiled.params[name] for name in (compiled.positiontup or []))
    conn = db.session.connection()
    return [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), params)]


def explain_fts(term: str, tenant_id: int) -> list[str]:
    """The query plan of the trigram look-up for a term."""
    conn = db.session.connection()
    rows = conn.execute(text("EXPLAIN QUERY PLAN " + _FTS_IDS.text),
                        {"q": fts_phrase(term.lower()), "tenant_id": tenant_id, "limit": 1})
    return [row[3] for row in rows]
