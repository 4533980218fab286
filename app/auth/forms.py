"""Sign-in forms."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    """Login and Password."""

    login = StringField("Login", validators=[DataRequired(message="Enter your login."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."),
                                                     Length(max=1024)])
    next = HiddenField()


class EmptyForm(FlaskForm):
    """A POST-only button: carries the CSRF token and nothing else."""


class LinkForm(FlaskForm):
    """Link Microsoft account: the password again, and which integration."""

    integration_id = SelectField("Integration", coerce=int)
    password = PasswordField("Your password", validators=[DataRequired(message="Enter your password."),
                                                         Length(max=1024)])
