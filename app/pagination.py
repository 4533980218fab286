"""Pagination helpers: plain offset paging for small lists (keyset paging lives with big lists)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select

from .extensions import db


@dataclass
class Page:
    """One page of rows and how to reach its neighbours."""

    items: list[Any]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """Number of pages (at least 1)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        """A previous page exists."""
        return self.number > 1

    @property
    def has_next(self) -> bool:
        """A next page exists."""
        return self.number < self.pages


def page_number(raw: Any) -> int:
    """A page number from the query string; junk means page 1."""
    try:
        return max(1, min(int(raw), 1_000_000))
    except (TypeError, ValueError):
        return 1


def paginate_offset(stmt: Select, raw_page: Any, per_page: int) -> Page:
    """Offset pagination with a count; for lists that stay small (tenants, connections)."""
    number = page_number(raw_page)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(db.session.scalars(stmt.limit(per_page).offset((number - 1) * per_page)))
    return Page(items, number, per_page, total)
