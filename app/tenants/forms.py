"""Forms of the Tenants page."""
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional


class TenantForm(FlaskForm):
    """A new tenant and its first tenant administrator."""

    name = StringField("Tenant name", validators=[DataRequired(message="Enter a name."), Length(max=200)])
    slug = StringField("Slug", validators=[Optional(), Length(max=100)],
                       description="Short identifier used by the command line; made from the name if left empty.")
    admin_login = StringField("Administrator login", validators=[DataRequired(message="Enter a login.")])
    admin_email = EmailField("Administrator email", validators=[DataRequired(message="Enter an email address.")])
    admin_name = StringField("Administrator name", validators=[DataRequired(message="Enter a name.")])
    admin_password = PasswordField("Administrator password",
                                   validators=[DataRequired(message="Enter a password.")])
