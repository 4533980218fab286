"""Shared fixtures: a fresh database per test (copied from a migrated template), clients, factories."""
from __future__ import annotations

import contextvars
import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app import clock, create_app
from app.extensions import db
from app.models import ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN, ROLE_USER, PasswordPolicy, Tenant, User
from app.passwords import hash_password

# The emulator's fixtures (emulator, fresh_emulator) for the Microsoft flows.
pytest_plugins = ["tests.emulator_fixtures"] if (Path(__file__).parent / "emulator_fixtures.py").exists() else []

PASSWORD = "Correct-Horse-9"
TEST_KEY = "q0Qm3o7nB7c1pQ9m0y3A2nVfHc2m0Zq4S6l9l5yJm3E="  # a fixed Fernet key for tests


def base_config(instance: Path) -> dict:
    """Configuration every test app starts from."""
    return {
        "ENV": "testing",
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "INSTANCE_PATH": str(instance),
        "WTF_CSRF_ENABLED": False,
        "ENCRYPTION_KEY": TEST_KEY,
        "LOGIN_RATE_LIMIT": 10_000,
        "SERVER_NAME": None,
    }


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """A database migrated once per test session; each test gets a copy."""
    instance = tmp_path_factory.mktemp("template-instance")
    app = create_app(base_config(instance))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return instance / "portal.sqlite3"


@pytest.fixture(scope="session")
def password_hash() -> str:
    """The hash of PASSWORD, computed once (Argon2id is deliberately slow)."""
    return hash_password(PASSWORD)


@pytest.fixture
def app_config(tmp_path, template_db) -> dict:
    """The config of this test's app; tests may change it before `app` is used."""
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copy(template_db, instance / "portal.sqlite3")
    return base_config(instance)


@pytest.fixture
def app(app_config):
    """The portal on a fresh database."""
    application = create_app(app_config)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()
    clock.freeze(None)


class IsolatedClient(FlaskClient):
    """Runs each request in its own app context and database session, as a real server does.

    The test's own session commits before the request (so the request sees the test's rows) and
    after it (so the test reads what the request committed, not a stale snapshot).
    """

    def open(self, *args, **kwargs):
        db.session.commit()
        try:
            return contextvars.Context().run(super().open, *args, **kwargs)
        finally:
            db.session.commit()
            db.session.expire_all()


@pytest.fixture
def client(app):
    """A test client whose requests do not share the test's app context."""
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def frozen_clock():
    """Set the app's clock: frozen_clock(datetime); released after the test."""
    yield clock.freeze
    clock.freeze(None)


class Factory:
    """Creates tenants and users directly (fast, with a precomputed password hash)."""

    def __init__(self, hashed: str):
        self.hashed = hashed

    def tenant(self, name: str = "Contoso Call Center", slug: str | None = None, **policy) -> Tenant:
        """A tenant with its policy (policy fields may be given)."""
        tenant = Tenant(name=name, slug=slug or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
        tenant.policy = PasswordPolicy(restricted_domains=[], **policy)
        db.session.add(tenant)
        db.session.commit()
        return tenant

    def user(self, tenant: Tenant | None, login: str, role: str = ROLE_USER, *,
             email: str | None = None, password: bool = True, **fields) -> User:
        """A user who can sign in with PASSWORD unless password=False."""
        user = User(tenant_id=tenant.id if tenant else None, display_name=fields.pop("display_name", login.title()),
                    role=role, password_hash=self.hashed if password else None, **fields)
        user.set_login(login)
        user.set_email(email or f"{login.lower()}@contoso.com")
        db.session.add(user)
        db.session.commit()
        return user


@pytest.fixture
def factory(app, password_hash) -> Factory:
    """Tenants and users for a test."""
    return Factory(password_hash)


@pytest.fixture
def people(factory):
    """Two tenants, each with an admin and a user, plus a service provider."""
    a = factory.tenant("Contoso Call Center", "contoso")
    b = factory.tenant("Fabrikam Support", "fabrikam")
    return {
        "tenant_a": a,
        "tenant_b": b,
        "sp": factory.user(None, "provider", ROLE_SYSTEM_ADMIN, email="provider@example.net"),
        "admin_a": factory.user(a, "admin-a", ROLE_TENANT_ADMIN),
        "user_a": factory.user(a, "user-a"),
        "admin_b": factory.user(b, "admin-b", ROLE_TENANT_ADMIN, email="admin-b@fabrikam.com"),
        "user_b": factory.user(b, "user-b", email="user-b@fabrikam.com"),
    }


def sign_in(client, login: str, password: str = PASSWORD, next_url: str | None = None):
    """Post the login form; returns the response (not followed)."""
    data = {"login": login, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login", data=data)


@pytest.fixture
def login(client):
    """login(name) signs the test client in with PASSWORD and checks it worked."""

    def _login(name: str, password: str = PASSWORD):
        response = sign_in(client, name, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return response

    return _login


def today() -> dt.date:
    """The app clock's date."""
    return clock.today()
