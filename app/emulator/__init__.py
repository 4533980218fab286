"""An offline Microsoft Entra ID emulator: a separate small WSGI app for the demo and the tests.

Run it with `EmulatorServer` (see server.py) or `flask emulator run`; DESIGN.md section 6 says why.
"""
import secrets

from flask import Flask

from .common import initials
from .tokens import preferred_username

# The portal uses Flask's default cookie name on the same host; cookies ignore ports, so ours differs.
SESSION_COOKIE_NAME = "entra_emulator_session"


def create_emulator_app(state, https_base, http_base):
    """Build the emulator's Flask app over `state`, naming its back and front channels' base URLs."""
    app = Flask(__name__, static_url_path="/_emulator/static")
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),  # browser sessions need not survive a restart
        SESSION_COOKIE_NAME=SESSION_COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PRESENTER_CSRF=secrets.token_urlsafe(24),
        EMULATOR_STATE=state,
        EMULATOR_HTTPS_BASE=https_base.rstrip("/"),
        EMULATOR_HTTP_BASE=http_base.rstrip("/"),
    )
    app.json.sort_keys = False
    app.jinja_env.filters["initials"] = initials
    app.jinja_env.filters["login_name"] = preferred_username
    register_blueprints(app)
    app.after_request(add_security_headers)
    return app


def register_blueprints(app):
    """The back channel, the browser pages, Graph and the presenter page."""
    from . import flow, presenter, routes_graph, routes_oauth, routes_pages

    for module in (routes_oauth, routes_pages, flow, routes_graph, presenter):
        app.register_blueprint(module.bp)


def add_security_headers(response):
    """No framing, no sniffing, no referrer (codes travel in URLs), no caching of pages and tokens."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
        # No form-action: Chrome applies it to the redirect back to the application after a POST.
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                                                               "frame-ancestors 'none'; base-uri 'none'")
    return response


from .server import EmulatorServer, serve_forever  # noqa: E402  (server.py imports create_emulator_app)
from .state import EmulatorState  # noqa: E402

__all__ = ["create_emulator_app", "EmulatorServer", "EmulatorState", "serve_forever"]
