"""Home page."""
from flask import render_template
from flask_login import current_user, login_required

from . import bp


@bp.route("/")
@login_required
def home():
    """Where everyone lands after signing in."""
    return render_template("main/home.html", user=current_user)
