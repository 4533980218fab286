"""What only SQLite needs: pragmas and write transactions that never meet "database is locked".

Kept in one module so the app also runs on PostgreSQL, where none of this applies.
"""
from __future__ import annotations

from flask import has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

BUSY_TIMEOUT_MS = 10_000
_READ_ONLY_METHODS = {"GET", "HEAD", "OPTIONS"}


def _wants_write_lock() -> bool:
    """Requests that write take SQLite's write lock when their transaction begins.

    A deferred transaction that reads and then writes fails at once with "database is locked"
    when another connection wrote in between (WAL snapshot); BEGIN IMMEDIATE waits instead.
    GET never changes anything here, except views marked with `writes_on_get` (the OAuth callback).
    """
    if not has_request_context():
        # Commands and scripts run one at a time; a deferred BEGIN lets a test's reads not
        # hold the write lock that the requests it makes need.
        return False
    if request.method not in _READ_ONLY_METHODS:
        return True
    view = request.url_rule and request.endpoint
    from flask import current_app

    func = current_app.view_functions.get(view) if view else None
    return bool(getattr(func, "writes_on_get", False))


def writes_on_get(view):
    """Mark a GET view that writes (a redirect target such as the OAuth callback)."""
    view.writes_on_get = True
    return view


def configure(engine: Engine) -> None:
    """Install pragmas and transaction handling on a SQLite engine."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling is off).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _wants_write_lock() else "BEGIN")
