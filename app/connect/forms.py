"""Wizard forms."""
from flask_wtf import FlaskForm
from wtforms import BooleanField


class ConfigureForm(FlaskForm):
    """Step 2. Configure."""

    auto_activation = BooleanField(
        "Automatic activation",
        description="Automatically activate Single Sign-On when users log in with a matching email address",
    )
