"""Administration > User Authentication > 2-Step Verification: the tenant's TOTP switch."""
from flask import Blueprint

bp = Blueprint("two_step", __name__, url_prefix="/admin/user-authentication/2-step-verification")

from . import routes  # noqa: E402,F401  (registers the views on bp)
