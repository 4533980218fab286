"""Helpers shared by the emulator's views: its state, base URLs, browser session, answers to the app."""
import secrets
from urllib.parse import urlencode

from flask import Response, current_app, render_template, session

from .errors import describe, redirect_error

MAX_REMEMBERED_ACCOUNTS = 10


def get_state():
    """The EmulatorState this app serves."""
    return current_app.config["EMULATOR_STATE"]


def https_base():
    """Base URL of the back channel (discovery, token, keys, Graph)."""
    return current_app.config["EMULATOR_HTTPS_BASE"]


def http_base():
    """Base URL of the browser-facing front channel."""
    return current_app.config["EMULATOR_HTTP_BASE"]


def browser_id():
    """A random id for this browser, kept in the emulator's own session cookie."""
    if "browser" not in session:
        session["browser"] = secrets.token_urlsafe(16)
        session["session_state"] = secrets.token_hex(16)
    return session["browser"]


def signed_in_accounts():
    """Object ids of the accounts this browser has signed in with, most recent first."""
    return list(session.get("accounts", []))


def remember_sign_in(oid):
    """Remember that this browser signed in with `oid` (for prompt=none and the picker's hints)."""
    accounts = [oid] + [a for a in signed_in_accounts() if a != oid]
    session["accounts"] = accounts[:MAX_REMEMBERED_ACCOUNTS]


def session_state():
    """Entra's session_state value for this browser."""
    browser_id()
    return session["session_state"]


def send_to_client(redirect_uri, params, response_mode="query", state=None):
    """Send the answer to the application's (already validated) redirect URI in the requested mode."""
    params = {k: v for k, v in params.items() if v is not None}
    if state is not None:
        params["state"] = state
    if response_mode == "form_post":
        return Response(render_template("form_post.html", action=redirect_uri, fields=params),
                        mimetype="text/html")
    separator = "#" if response_mode == "fragment" else ("&" if "?" in redirect_uri else "?")
    location = redirect_uri + separator + urlencode(params) if params else redirect_uri
    # A bare Location header keeps the redirect URI byte for byte, as the app registered it.
    return Response(status=302, headers={"Location": location})


def send_error_to_client(pending, error, code, extra=None, **values):
    """Send an Entra-shaped error for a pending request back to its application."""
    params = dict(redirect_error(error, code, **values), **(extra or {}))
    return send_to_client(pending["redirect_uri"], params, pending.get("response_mode", "query"),
                          pending.get("state"))


def error_page(code, status=400, title=None, back_url=None, **values):
    """An error page for the person in the browser (used when the redirect URI cannot be trusted)."""
    title = title or "Sorry, but we\u2019re having trouble signing you in."
    body = render_template("error.html", title=title, code=code, message=describe(code, **values),
                           back_url=back_url)
    return Response(body, status=status, mimetype="text/html")


def initials(name):
    """Up to two initials for an avatar."""
    parts = [p for p in (name or "?").replace("(", " ").split() if p[:1].isalnum()]
    return "".join(p[0] for p in parts[:2]).upper() or "?"

