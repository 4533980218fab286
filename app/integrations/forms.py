"""Forms of the Integrations pages; the rules live in service.validate_integration."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, HiddenField, PasswordField, SelectChoice, SelectField, StringField,
                     TextAreaField)

from .clouds import CLOUD_LABELS
from .service import IntegrationInput

# The guide's words for the switch (its "Create SSO Connection" notes).
AUTO_ACTIVATE_HELP = (
    "If the “Auto-Activate SSO” option is enabled on the Integration, then the tenant admin can use "
    "their Microsoft SSO credentials to log in directly to Call Recording portal, and the connection "
    "is created. If it is disabled, then the tenant admin must log in to Call Recording portal using "
    "username/password credentials first and explicitly create SSO Connection for their organization."
)


class IntegrationForm(FlaskForm):
    """Create or edit an integration (a Microsoft Entra app registration)."""

    # The guide's example values as defaults of a new integration.
    name = StringField("Name", default="Microsoft")
    description = TextAreaField("Description", render_kw={"rows": 2},
                                default="Log in to the application with your Microsoft account credentials")
    app_domain = StringField("App Domain", description=(
        "The portal's public host name, for example portal.example.com. The redirect URI to register "
        "in Entra ID is https://<App Domain>/auth/microsoft/callback."))
    client_id = StringField("Client ID", description=(
        "The Application (client) ID of the app registration in Entra ID."))
    # Write-only: PasswordField never renders a value back, not even after a validation error.
    client_secret = PasswordField("Client secret")
    cloud = SelectField("Cloud", choices=[SelectChoice(k, v) for k, v in CLOUD_LABELS.items()],
                        default="public")
    authority_url = StringField("Authority URL", description=(
        "Custom authority only: the identity provider's https:// base URL, for example "
        "https://login.example.com."))
    graph_endpoint = StringField("Graph endpoint", description=(
        "Custom authority only, optional: the Microsoft Graph base URL; defaults to the authority."))
    ca_bundle = StringField("CA bundle", description=(
        "Custom authority only, optional: the full path on the server of a PEM file with the "
        "certificate authorities to trust for this identity provider."))
    auto_activate = BooleanField("Auto-Activate SSO", description=AUTO_ACTIVATE_HELP)
    enabled = BooleanField("Enabled", default=True)
    version = HiddenField()

    def to_input(self) -> IntegrationInput:
        """The typed values for the service's validation."""
        return IntegrationInput(
            name=self.name.data or "", description=self.description.data or "",
            app_domain=self.app_domain.data or "", client_id=self.client_id.data or "",
            client_secret=self.client_secret.data or "", cloud=self.cloud.data or "",
            authority_url=self.authority_url.data or "", graph_endpoint=self.graph_endpoint.data or "",
            ca_bundle=self.ca_bundle.data or "", auto_activate=bool(self.auto_activate.data),
            enabled=bool(self.enabled.data))

    def add_errors(self, errors: dict[str, str]) -> None:
        """Attach the service's field errors to the fields."""
        for name, message in errors.items():
            field = getattr(self, name)
            field.errors = [*field.errors, message]


class DeleteForm(FlaskForm):
    """Delete button; on the second confirmation page it names the connections it was shown."""

    confirm_connections = HiddenField()
