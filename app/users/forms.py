"""Forms of User Management > Users (labels as in the product guide)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from flask_wtf import FlaskForm
from wtforms import (BooleanField, HiddenField, PasswordField, RadioField, SelectChoice, SelectField,
                     StringField)

from ..models import AUTH_PASSWORD, AUTH_SSO, AUTH_TYPE_LABELS, ROLE_LABELS, ROLE_TENANT_ADMIN, ROLE_USER
from .service import SSO_IMPLICIT, UserInput, parse_valid_till


class UserForm(FlaskForm):
    """A user's details and WEB PORTAL ACCESS SETTINGS; checks live in app/users/service.py."""

    display_name = StringField("Name")
    role = SelectField("Role", choices=[SelectChoice(ROLE_USER, ROLE_LABELS[ROLE_USER]),
                                        SelectChoice(ROLE_TENANT_ADMIN, ROLE_LABELS[ROLE_TENANT_ADMIN])],
                       default=ROLE_USER)
    login = StringField("Login")
    email = StringField("Email")
    web_access = BooleanField("Enable", default=True)
    auth_type = RadioField("Authentication type", default=AUTH_PASSWORD,
                           choices=[SelectChoice(AUTH_PASSWORD, AUTH_TYPE_LABELS[AUTH_PASSWORD]),
                                    SelectChoice(AUTH_SSO, AUTH_TYPE_LABELS[AUTH_SSO])],
                           description=SSO_IMPLICIT)
    require_2fa = BooleanField("Require 2-step verification for user login")
    valid_till = StringField("Valid till", description="Inclusive: the user can sign in until the end "
                                                       "of this day (UTC). Leave empty for no end.")
    password = PasswordField("Password", description="Leave empty to set it later.")
    password_confirm = PasswordField("Repeat password")
    confirm_unlink = BooleanField("Remove the linked Microsoft account")
    version = HiddenField()

    def to_input(self) -> UserInput:
        """The typed values for the service."""
        return UserInput(
            login=self.login.data or "", email=self.email.data or "",
            display_name=self.display_name.data or "", role=self.role.data or "",
            web_access=bool(self.web_access.data), auth_type=self.auth_type.data or "",
            require_2fa=bool(self.require_2fa.data), valid_till=str(self.valid_till.data or ""),
            password=self.password.data or "", password_confirm=self.password_confirm.data or "",
            confirm_unlink=bool(self.confirm_unlink.data))

    def subject(self, has_password: bool):
        """The user as typed, for the warnings (an unreadable date counts as none)."""
        day, _ = parse_valid_till(str(self.valid_till.data or ""), dt.date.min)
        return SimpleNamespace(email=(self.email.data or "").strip(), web_access=bool(self.web_access.data),
                               valid_till=day, auth_type=self.auth_type.data,
                               require_2fa=bool(self.require_2fa.data), role=self.role.data,
                               has_password=has_password or bool(self.password.data))

    def show_errors(self, errors: dict[str, str]) -> None:
        """Attach the service's field errors to the fields."""
        for name, message in errors.items():
            field = getattr(self, name, None) or self.login
            field.errors = list(field.errors or []) + [message]


class DeleteForm(FlaskForm):
    """Confirms a deletion of the user as it was shown (its version)."""

    version = HiddenField()
