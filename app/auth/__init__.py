"""Sign-in: password sign-in now; Microsoft sign-in and 2-step verification join it."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import link_routes, routes, sso_routes  # noqa: E402,F401  (registers the views on bp)
from . import two_step  # noqa: E402,F401  (the 2-step verification step after the password)
