"""Profile forms."""
from flask_wtf import FlaskForm
from wtforms import PasswordField


class PasswordChangeForm(FlaskForm):
    """The current password and the new one twice."""

    current_password = PasswordField("Current password")
    new_password = PasswordField("New password")
    new_password_repeat = PasswordField("Repeat new password")
