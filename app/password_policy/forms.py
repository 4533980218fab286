"""The Password Policy form: password rules and the SINGLE SIGN-ON section."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, FieldList, HiddenField, IntegerField, RadioField, SelectChoice, StringField
from wtforms.validators import InputRequired, Length, NumberRange

from ..auth.domains import MAX_DOMAINS, check_domains
from ..models import SSO_DISABLED, SSO_ENABLED, SSO_MANDATORY, SSO_MODE_LABELS

RESTRICTED_DOMAINS_HELP = (
    "If enabled, users will be able to sign in with SSO only if their email address matches one of "
    "the specified domains. Leave empty to allow SSO for all email addresses."
)
MANDATORY_NOTE = (
    "If SSO is enforced for the entire organization, the users will not be able to use their "
    "username/password to log into the Call Recording portal. If the SSO integration is unavailable "
    "for any reason, a support ticket should be created with the Service Provider to reset the "
    "settings."
)
DOMAIN_MISMATCH_NOTE = (
    "If an email domain mismatch occurs, the user will be blocked from logging in via SSO, even if "
    "they have valid credentials with the IdP."
)


def _number(label: str, low: int, high: int, description: str = "") -> IntegerField:
    """An integer field that must lie in [low, high], with one plain message for every mistake."""
    message = f"Enter a whole number from {low} to {high}."
    return IntegerField(label, validators=[InputRequired(message=message), NumberRange(low, high, message)],
                        description=description)


class PolicyForm(FlaskForm):
    """Edit Configuration: every value of the policy, plus the version it was read at."""

    min_length = _number("Minimum password length", 8, 128, "From 8 to 128 characters.")
    require_upper = BooleanField("Require an upper-case letter (A–Z)")
    require_lower = BooleanField("Require a lower-case letter (a–z)")
    require_digit = BooleanField("Require a digit (0–9)")
    require_symbol = BooleanField("Require a symbol (such as ! # % or -)")
    max_failed_attempts = _number("Failed attempts before lockout", 1, 100,
                                  "The account is locked after this many wrong passwords in a row.")
    lockout_minutes = _number("Lockout duration (minutes)", 1, 1440, "From 1 minute to 1 day (1440).")
    sso_mode = RadioField("Single Sign-On", default=SSO_ENABLED,
                          choices=[SelectChoice(m, SSO_MODE_LABELS[m]) for m in (SSO_ENABLED, SSO_DISABLED, SSO_MANDATORY)],
                          validate_choice=True)
    domains = FieldList(StringField("Email domain", validators=[Length(max=300)]), max_entries=MAX_DOMAINS + 20)
    version = HiddenField()
    confirm = HiddenField()

    normalised_domains: list[str]

    def check_domain_entries(self) -> bool:
        """Normalise the domain entries (app/auth/domains.py); attach each problem to its entry."""
        domains, errors = check_domains([entry.data or "" for entry in self.domains])
        for index, message in errors.items():
            entry = self.domains.entries[index]
            entry.errors = list(entry.errors) + [message]
        if errors:
            self.domains.errors = [entry.errors for entry in self.domains.entries]
        self.normalised_domains = domains
        return not errors

    def edit_domain_list(self, formdata) -> bool:
        """Handle "+ Add Email domain" and "×" without JavaScript; True when this was such a click."""
        # Nothing is saved here: the form is shown again with everything typed kept.
        if "add_domain" in formdata:
            if len(self.domains) < (self.domains.max_entries or MAX_DOMAINS):
                self.domains.append_entry("")
            return True
        if "remove_domain" not in formdata:
            return False
        values = [entry.data or "" for entry in self.domains]
        try:
            del values[int(formdata["remove_domain"])]
        except (ValueError, IndexError):
            pass
        while self.domains.entries:  # renumber domains-0.. so the names stay dense
            self.domains.pop_entry()
        for value in values:
            self.domains.append_entry(value)
        return True

    def values(self) -> dict:
        """The typed policy values (domains as normalised by check_domain_entries)."""
        return {
            "sso_mode": self.sso_mode.data,
            "restricted_domains": list(self.normalised_domains),
            "min_length": self.min_length.data,
            "require_upper": self.require_upper.data,
            "require_lower": self.require_lower.data,
            "require_digit": self.require_digit.data,
            "require_symbol": self.require_symbol.data,
            "max_failed_attempts": self.max_failed_attempts.data,
            "lockout_minutes": self.lockout_minutes.data,
        }
