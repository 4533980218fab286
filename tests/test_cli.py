"""The flask commands: init-db, tenants create, users create."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Tenant, User

ROOT = Path(__file__).resolve().parents[1]


def test_tenants_create_with_default_slug(runner):
    result = runner.invoke(args=["tenants", "create", "Contoso Call Center"])
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(Tenant.slug)).all() == ["contoso-call-center"]
    again = runner.invoke(args=["tenants", "create", "Contoso Call Center"])
    assert again.exit_code == 1 and "already has this slug" in again.output


def test_users_create_and_errors(runner):
    runner.invoke(args=["tenants", "create", "Contoso", "--slug", "contoso"])
    ok = runner.invoke(args=["users", "create", "--tenant", "contoso", "--login", "megan", "--email",
                             "megan@contoso.com", "--name", "Megan Bowen", "--role", "tenant_admin",
                             "--password", "Long-Enough-Pass1"])
    assert ok.exit_code == 0, ok.output
    dup = runner.invoke(args=["users", "create", "--tenant", "contoso", "--login", "MEGAN", "--email",
                              "other@contoso.com", "--name", "X", "--role", "user", "--password", "Long-Enough-Pass1"])
    assert dup.exit_code == 1 and "already taken" in dup.output
    unknown = runner.invoke(args=["users", "create", "--tenant", "nope", "--login", "x", "--email",
                                  "x@contoso.com", "--name", "X", "--role", "user", "--password", "Long-Enough-Pass1"])
    assert unknown.exit_code == 1 and "No tenant has the slug 'nope'" in unknown.output
    sp_with_tenant = runner.invoke(args=["users", "create", "--tenant", "contoso", "--login", "ops", "--email",
                                         "ops@example.net", "--name", "Ops", "--role", "system_admin",
                                         "--password", "Long-Enough-Pass1"])
    assert sp_with_tenant.exit_code == 1
    assert db.session.scalar(select(User.login).where(User.login_key == "megan")) == "megan"
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.client_addr == "cli")) is not None


def test_users_create_prompts_for_password(runner):
    result = runner.invoke(args=["users", "create", "--login", "ops", "--email", "ops@example.net",
                                 "--name", "Ops", "--role", "system_admin"],
                           input="Long-Enough-Pass1\nLong-Enough-Pass1\n")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User.password_hash).where(User.login == "ops")).startswith("$argon2id$")


def test_init_db_on_an_empty_folder_twice_loses_nothing(tmp_path):
    env = {**os.environ, "PORTAL_ENV": "development", "PORTAL_INSTANCE_PATH": str(tmp_path / "inst"),
           "FLASK_APP": "wsgi"}
    env.pop("DATABASE_URL", None)

    def flask(*args):
        return subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    assert flask("init-db").returncode == 0
    assert flask("tenants", "create", "Contoso").returncode == 0
    assert flask("users", "create", "--tenant", "contoso", "--login", "megan", "--email", "m@contoso.com",
                 "--name", "Megan", "--role", "tenant_admin", "--password", "Long-Enough-Pass1").returncode == 0
    second = flask("init-db")
    assert second.returncode == 0, second.stderr
    listing = subprocess.run(["sqlite3", str(tmp_path / "inst" / "portal.sqlite3"), "select login from user"],
                             capture_output=True, text=True)
    if listing.returncode == 0:
        assert listing.stdout.strip() == "megan"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    from app import create_app
    import pytest

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV": "production", "INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV": "production", "SECRET_KEY": "short", "INSTANCE_PATH": str(tmp_path)})
    app = create_app({"ENV": "production", "SECRET_KEY": "x" * 40, "INSTANCE_PATH": str(tmp_path)})
    assert app.config["SESSION_COOKIE_SECURE"] is True
