"""Browser tests: the portal served by a real threaded server, driven by Debian's Chromium."""
from __future__ import annotations

import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db

from ..conftest import base_config

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_path() -> str:
    """Debian's Chromium binary (Playwright's own download cannot work here)."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/lib/chromium/chromium", "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip("Debian's chromium is not installed (bin/test installs it)")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Keep pytest-playwright's options; use Debian's binary and no look-ups of Google's hosts."""
    args = list(browser_type_launch_args.get("args", []))
    args.append("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1")
    return {**browser_type_launch_args, "executable_path": chromium_path(), "args": args}


@dataclass
class LiveServer:
    """A running portal: its base URL and its Flask app (for seeding inside app_context)."""

    url: str
    app: Flask


@pytest.fixture
def live_server(tmp_path, template_db, request):
    """The portal on a fresh database, served by werkzeug (threaded) in a background thread."""
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copy(template_db, instance / "portal.sqlite3")
    config = base_config(instance)
    config.update(getattr(request, "param", None) or {})
    config["WTF_CSRF_ENABLED"] = True
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def context(browser, browser_context_args, live_server):
    """A fresh browser context per test whose page.goto('/x') resolves against the live server."""
    ctx = browser.new_context(**{**browser_context_args, "base_url": live_server.url})
    yield ctx
    ctx.close()


@pytest.fixture
def shot(page, request):
    """shot(name) saves a screenshot under test-artifacts/ (kept by CI, not committed)."""

    def _shot(name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return _shot


@dataclass
class SsoWorld:
    """A live portal with a system-wide integration pointed at the emulator, and Contoso people."""

    server: LiveServer
    emulator: object
    integration_id: int
    tenant_id: int


@pytest.fixture
def live_sso(live_server, fresh_emulator):
    """Contoso Call Center (megan: tenant admin; alex: user) and the Microsoft integration."""
    from app.accounts import NewUser, create_tenant, create_user
    from app.auth import microsoft

    from ..emulator_fixtures import CLIENT_ID
    from ..sso_helpers import make_integration

    microsoft._DOC_CACHE.clear()
    microsoft._HTTP_CACHE.clear()
    fresh_emulator.state.add_redirect_uri(CLIENT_ID, f"{live_server.url}/auth/microsoft/callback")
    with live_server.app.app_context():
        tenant = create_tenant("Contoso Call Center", "contoso")
        for login, name, role in (("megan", "Megan Bowen", "tenant_admin"), ("alex", "Alex Wilber", "user")):
            create_user(tenant, NewUser(login, f"{login}@contoso.com", name, role, password=PASSWORD))
        db.session.commit()
        integration = make_integration(fresh_emulator, app_domain=live_server.url)
        world = SsoWorld(live_server, fresh_emulator, integration.id, tenant.id)
    return world


PASSWORD = "Contoso-Demo-1"


def password_sign_in(page, login: str, password: str = PASSWORD) -> None:
    """Sign in through the real login page."""
    page.goto("/login")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def pick_account(page, upn: str) -> None:
    """On the emulator's "Pick an account" page, choose the account."""
    page.locator(f'button[data-upn="{upn}"]').click()
