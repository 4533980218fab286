"""DESIGN §5a reliability and session requirements, each a test: cookies, lifetimes, timing
equaliser, SQLite settings, no transaction held across a call to Microsoft, concurrency."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import requests
from sqlalchemy import text
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db

from .conftest import PASSWORD, sign_in
from .sso_helpers import authorize, connect, sso, started  # noqa: F401  (fixture)


def test_session_cookie_flags_in_production(app_config):
    app_config.update(ENV="production", SECRET_KEY="p" * 40, WTF_CSRF_ENABLED=True)
    app = create_app(app_config)
    with app.app_context():
        cookie = app.test_client().get("/login").headers["Set-Cookie"]  # the CSRF token's session
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
        db.engine.dispose()


def test_absolute_session_lifetime(client, people, frozen_clock, app):
    start = dt.datetime(2026, 12, 1, 8, 0)
    app.config["PERMANENT_SESSION_LIFETIME"] = dt.timedelta(hours=2)
    frozen_clock(start)
    sign_in(client, "user-a")
    for minutes in range(30, 120, 30):  # active every 30 minutes: never idle
        frozen_clock(start + dt.timedelta(minutes=minutes))
        assert client.get("/").status_code == 200
    frozen_clock(start + dt.timedelta(minutes=121))
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("case", ["unknown", "disabled", "sso_only", "wrong"])
def test_every_refusal_spends_one_password_verification(client, people, monkeypatch, case):
    """Same work for an unknown login as for a real one: timing reveals no accounts."""
    from app.auth import service

    calls = []
    real = service.verify_password
    monkeypatch.setattr(service, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    user = people["user_a"]
    if case == "disabled":
        user.web_access = False
    if case == "sso_only":
        user.auth_type = "sso"
    db.session.commit()
    sign_in(client, "nobody" if case == "unknown" else "user-a", "wrong" if case == "wrong" else PASSWORD)
    assert len(calls) == 1


def test_sqlite_runs_in_wal_with_foreign_keys_and_a_busy_timeout(app):
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


@pytest.fixture
def served(app):
    """The test app served by a threaded werkzeug server, as in production with several threads."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def assert_sign_in_is_quick_while_the_callback_waits(emulator, served, browser_session, answer):
    """Deliver Microsoft's answer while its token endpoint takes 3 s; a password sign-in made
    meanwhile (a writer) must not wait for it."""
    emulator.state.set_delay(3)
    slow = threading.Thread(target=lambda: browser_session.get(
        served + answer.redirect_url.split("5999", 1)[1], allow_redirects=False, timeout=30))
    slow.start()
    time.sleep(0.5)  # the callback is now waiting for the token endpoint
    began = time.monotonic()
    response = requests.post(f"{served}/login", data={"login": "user-a", "password": PASSWORD},
                             allow_redirects=False, timeout=30)
    elapsed = time.monotonic() - began
    slow.join()
    assert response.status_code == 302 and elapsed < 2, elapsed


def test_a_slow_microsoft_callback_does_not_block_other_sign_ins(app, sso, factory, served):
    """No database transaction stays open while Microsoft is called."""
    connect(sso["integration"], sso["tenant_a"])
    factory.user(sso["tenant_a"], "alex", email="alex@contoso.com")
    browser_session = requests.Session()
    start = browser_session.post(f"{served}/auth/microsoft/start/{sso['integration'].id}", allow_redirects=False)
    answer = authorize(sso["emulator"], start.headers["Location"], "alex@contoso.com")
    assert_sign_in_is_quick_while_the_callback_waits(sso["emulator"], served, browser_session, answer)


def test_concurrent_sign_ins_and_admin_writes_never_meet_a_locked_database(app, people, served, caplog):
    """Several threads sign in (right and wrong passwords) while an admin creates tenants."""
    statuses: list[int] = []
    lock = threading.Lock()

    def sign_ins(login: str, password: str):
        session = requests.Session()
        for _ in range(6):
            r = session.post(f"{served}/login", data={"login": login, "password": password},
                             allow_redirects=False, timeout=30)
            with lock:
                statuses.append(r.status_code)
            session.cookies.clear()

    def admin_writes():
        session = requests.Session()
        session.post(f"{served}/login", data={"login": "provider", "password": PASSWORD}, timeout=30)
        for i in range(6):
            r = session.post(f"{served}/admin/tenants/new", allow_redirects=False, timeout=30, data={
                "name": f"Load Tenant {i}", "admin_login": f"load-admin-{i}", "admin_email": f"a{i}@load.example",
                "admin_name": "Load Admin", "admin_password": "Load-Password-9"})
            with lock:
                statuses.append(r.status_code)

    threads = [threading.Thread(target=sign_ins, args=("user-a", PASSWORD)),
               threading.Thread(target=sign_ins, args=("user-b", "wrong-password")),
               threading.Thread(target=sign_ins, args=("admin-a", PASSWORD)),
               threading.Thread(target=admin_writes)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(statuses) == 24
    assert set(statuses) <= {200, 302}, statuses
    assert "database is locked" not in caplog.text
    from app.models import Tenant

    assert db.session.query(Tenant).filter(Tenant.name.like("Load Tenant %")).count() == 6


def test_a_slow_wizard_callback_does_not_block_other_sign_ins(app, sso, served):
    """The wizard's callback reads the signed-in admin first; that must not keep a transaction."""
    session = requests.Session()
    session.post(f"{served}/login", data={"login": "admin-a", "password": PASSWORD}, timeout=30)
    start = session.post(f"{served}/admin/integrations/{sso['integration'].id}/connect", allow_redirects=False)
    answer = authorize(sso["emulator"], start.headers["Location"], "megan@contoso.com", on_behalf=True)
    assert_sign_in_is_quick_while_the_callback_waits(sso["emulator"], served, session, answer)
