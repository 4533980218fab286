"""Default configuration; instance/config.py, PORTAL_* variables and tests override it."""
from __future__ import annotations

import datetime as dt

# A placeholder the app refuses to run with in production.
DEV_SECRET_KEY = "dev-only-not-secret"


class Defaults:
    """Settings every install starts from. Each is overridable as PORTAL_<NAME>."""

    # production | development | testing. Production demands a real SECRET_KEY and Secure cookies.
    ENV = "production"
    SECRET_KEY = DEV_SECRET_KEY
    # Database: None means SQLite in the instance folder (DATABASE_URL or PORTAL_DATABASE_URL override).
    DATABASE_URL: str | None = None
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    # Key for client secrets and TOTP secrets at rest (Fernet); else instance/encryption.key.
    ENCRYPTION_KEY: str | None = None
    SESSION_COOKIE_NAME = "portal_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = True
    # Absolute lifetime of a signed-in session, and how long it may sit idle.
    PERMANENT_SESSION_LIFETIME = dt.timedelta(hours=12)
    SESSION_IDLE_MINUTES = 60
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    # Sign-in attempts allowed per client address per window (shared by all workers).
    LOGIN_RATE_LIMIT = 30
    LOGIN_RATE_WINDOW_SECONDS = 300
    # 2-step verification codes a user may try per window, and password-change attempts likewise.
    TOTP_RATE_LIMIT = 5
    TOTP_RATE_WINDOW_SECONDS = 300
    PASSWORD_CHANGE_ATTEMPTS = 5
    PASSWORD_CHANGE_WINDOW_SECONDS = 300
    # Seconds to wait for the identity provider on any call.
    IDP_TIMEOUT_SECONDS = 10
    # Number of proxies in front of the app whose X-Forwarded-* headers are trusted (0: none).
    PROXY_COUNT = 0
    # Register the `flask` commands even outside the flask CLI (they always are under it).
    REGISTER_CLI = False
    # Rows per page on lists.
    PAGE_SIZE = 25
