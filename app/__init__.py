"""The Call Recording portal: application factory."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as config_module
from .extensions import csrf, db, login_manager

MIGRATIONS_DIR = str(Path(__file__).resolve().parent.parent / "migrations")


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the portal: config, extensions, blueprints, error handlers, CLI."""
    instance_path = os.environ.get("PORTAL_INSTANCE_PATH") or None
    if test_config and test_config.get("INSTANCE_PATH"):
        instance_path = test_config["INSTANCE_PATH"]
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    register_config(app, test_config)
    register_extensions(app)
    register_blueprints(app)
    register_handlers(app)
    register_cli(app)
    return app


def register_config(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Defaults → instance/config.py → PORTAL_* environment → test config; then checks."""
    app.config.from_object(config_module.Defaults)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("PORTAL")
    if test_config:
        app.config.from_mapping(test_config)
    url = app.config.get("DATABASE_URL") or os.environ.get("DATABASE_URL")
    if not url:
        url = "sqlite:///" + str(Path(app.instance_path) / "portal.sqlite3")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    env = app.config["ENV"]
    if env not in ("production", "development", "testing"):
        raise RuntimeError(f"PORTAL_ENV must be production, development or testing, not {env!r}.")
    if env == "production":
        key = app.config.get("SECRET_KEY") or ""
        if key == config_module.DEV_SECRET_KEY or len(str(key)) < 32:
            raise RuntimeError(
                "Refusing to start in production without a real SECRET_KEY: set PORTAL_SECRET_KEY "
                "(32+ random characters) or SECRET_KEY in instance/config.py."
            )
    else:
        # Development and tests run on plain http://127.0.0.1, where Secure cookies are dropped.
        app.config.setdefault("SESSION_COOKIE_SECURE", False)
        if test_config is None or "SESSION_COOKIE_SECURE" not in test_config:
            app.config["SESSION_COOKIE_SECURE"] = False
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)


def register_extensions(app: Flask) -> None:
    """Bind the extensions; SQLite gets its pragmas and write-lock handling."""
    from . import db_sqlite

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to open that page."
    login_manager.login_message_category = "info"
    with app.app_context():
        db_sqlite.configure(db.engine)


def register_blueprints(app: Flask) -> None:
    """Each area is a small blueprint; later areas register here too."""
    from .auth import bp as auth_bp
    from .main import bp as main_bp
    from .tenants import bp as tenants_bp

    for bp in (main_bp, auth_bp, tenants_bp):
        app.register_blueprint(bp)
    for name in OPTIONAL_BLUEPRINTS:
        module = optional_module(name)
        if module is not None:
            app.register_blueprint(module.bp)


# Areas built by later work; each registers when its package exists.
OPTIONAL_BLUEPRINTS = (
    "app.users",
    "app.two_step",
    "app.password_policy",
    "app.audit_log",
    "app.integrations",
    "app.connect",
    "app.profile",
)


def optional_module(name: str):
    """Import an area's module if that area exists yet (a missing package is not an error)."""
    import importlib

    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise


def register_handlers(app: Flask) -> None:
    """Error pages, security headers, session loading, template helpers."""
    from . import errors, security, sessions, templating

    errors.init_app(app)
    security.init_app(app)
    sessions.init_app(app)
    templating.init_app(app)


def register_cli(app: Flask) -> None:
    """The `flask` commands, when this process runs them (tests too); a web worker skips them,
    and with them Alembic and the emulator (about 12 MiB per worker)."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true" and not app.config.get("TESTING") \
            and not app.config.get("REGISTER_CLI"):
        return
    from flask_migrate import Migrate

    from .cli import register

    Migrate(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    register(app)
