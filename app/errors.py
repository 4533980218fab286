"""Error pages in the site's layout; a 500 rolls the transaction back first."""
from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

from .extensions import db

TITLES = {
    400: "Bad request",
    403: "Access denied",
    404: "Page not found",
    405: "Method not allowed",
    429: "Too many attempts",
    500: "Something went wrong",
}


def init_app(app: Flask) -> None:
    """Register the handlers."""

    def render(code: int, message: str = ""):
        return render_template("errors/error.html", code=code, title=TITLES.get(code, "Error"),
                               message=message), code

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render(400, "The form expired or was sent from another page. Go back, reload the "
                           "page and try again.")

    for code in (400, 403, 404, 405, 429):
        app.register_error_handler(code, lambda exc, code=code: render(code))

    @app.errorhandler(500)
    def _server_error(exc):
        db.session.rollback()
        app.logger.error("Unhandled error on %s %s", request.method, request.path)
        return render(500)
