"""Integrations: one validation for the forms and the CLI, and create, update and delete."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import delete, func, select
from sqlalchemy.orm.exc import StaleDataError

from .. import audit
from ..accounts import ValidationFailed
from ..crypto import encrypt
from ..extensions import db
from ..models import CLOUDS, Connection, Integration, LinkedAccount, Tenant
from . import clouds

SECRET_MAX = 1024
# Enough for any real CA bundle; a huge file is not what an administrator meant.
CA_BUNDLE_READ_LIMIT = 4 * 1024 * 1024
# The columns an administrator sets; the audit log compares them before and after a change.
FIELDS = ("name", "description", "app_domain", "client_id", "cloud", "authority_url",
          "graph_endpoint", "ca_bundle", "auto_activate", "enabled")


class EditConflict(Exception):
    """The integration changed since the form was opened (optimistic locking)."""


@dataclass
class IntegrationInput:
    """An integration as typed into the form or given to the CLI (untrusted strings)."""

    name: str = ""
    client_id: str = ""
    client_secret: str = ""  # empty on edit: keep the stored secret
    cloud: str = "public"
    description: str = ""
    app_domain: str = ""
    authority_url: str = ""
    graph_endpoint: str = ""
    ca_bundle: str = ""
    auto_activate: bool = False
    enabled: bool = True


@dataclass(frozen=True)
class Outcome:
    """The result of an action: ok, a stable reason code, and words for the administrator."""

    ok: bool
    reason: str
    message: str


def ca_bundle_error(path: str) -> Optional[str]:
    """Why a CA bundle path is unusable, or None (an absolute path to a readable PEM file)."""
    candidate = Path(path)
    if not candidate.is_absolute():
        return "Enter the full path of a PEM file on the server, for example /etc/ssl/certs/idp-ca.pem."
    if not candidate.is_file():
        return "There is no file at this path on the server."
    try:
        with candidate.open("rb") as fh:
            content = fh.read(CA_BUNDLE_READ_LIMIT)
    except OSError:
        return "The portal cannot read this file; check its permissions."
    if b"BEGIN CERTIFICATE" not in content:
        return "This file holds no PEM certificate (no “BEGIN CERTIFICATE” line)."
    return None


def client_id_error(value: str) -> Optional[str]:
    """Why a client id is unusable, or None (not forced to a GUID: custom providers differ)."""
    if not value:
        return "Enter the Application (client) ID of the app registration."
    if len(value) > 100:
        return "Use at most 100 characters."
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return "A client ID cannot contain spaces."
    return None


def _custom_errors(data: IntegrationInput, cleaned: dict[str, Any], errors: dict[str, str]) -> None:
    """Authority, Graph endpoint and CA bundle: only a custom authority takes them."""
    authority, graph, bundle = (data.authority_url.strip(), data.graph_endpoint.strip(),
                                data.ca_bundle.strip())
    if data.cloud != "custom":
        for key, value in (("authority_url", authority), ("graph_endpoint", graph), ("ca_bundle", bundle)):
            if value:
                errors[key] = "Only a custom authority takes this; choose Custom authority or clear it."
        return
    if not authority:
        errors["authority_url"] = "Enter the authority URL of the custom identity provider."
    else:
        try:
            cleaned["authority_url"] = clouds.normalise_authority(authority)
        except clouds.CloudError as exc:
            errors["authority_url"] = str(exc)
    if graph:
        try:
            cleaned["graph_endpoint"] = clouds.normalise_graph(graph)
        except clouds.CloudError as exc:
            errors["graph_endpoint"] = str(exc)
    if bundle:
        if err := ca_bundle_error(bundle):
            errors["ca_bundle"] = err
        cleaned["ca_bundle"] = bundle


def validate_integration(data: IntegrationInput, *, creating: bool, allow_custom: bool = True,
                         current: Integration | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """Cleaned column values and field errors ({} when valid); the secret is checked, not returned."""
    errors: dict[str, str] = {}
    name, client_id = data.name.strip(), data.client_id.strip()
    cleaned: dict[str, Any] = {
        "name": name, "description": data.description.strip(), "client_id": client_id,
        "app_domain": data.app_domain.strip().rstrip("/"), "cloud": data.cloud,
        "authority_url": None, "graph_endpoint": None, "ca_bundle": None,
        "auto_activate": bool(data.auto_activate), "enabled": bool(data.enabled),
    }
    if not name:
        errors["name"] = "Enter a name."
    elif len(name) > 200:
        errors["name"] = "Use at most 200 characters."
    if len(cleaned["description"]) > 2000:
        errors["description"] = "Use at most 2000 characters."
    if err := clouds.app_domain_error(data.app_domain):
        errors["app_domain"] = err
    elif len(cleaned["app_domain"]) > 255:
        errors["app_domain"] = "Use at most 255 characters."
    if err := client_id_error(client_id):
        errors["client_id"] = err
    secret = data.client_secret.strip()
    if creating and not secret:
        errors["client_secret"] = "Enter the client secret (its Value, not its Secret ID)."
    elif len(secret) > SECRET_MAX:
        errors["client_secret"] = f"Use at most {SECRET_MAX} characters."
    if data.cloud not in CLOUDS:
        errors["cloud"] = "Choose a cloud: " + ", ".join(clouds.CLOUD_LABELS.values()) + "."
        return cleaned, errors
    _custom_errors(data, cleaned, errors)
    if data.cloud == "custom" and not allow_custom and not _same_custom(current, cleaned):
        # A custom authority makes the server call any URL it names: the service provider's call.
        errors["cloud"] = "Only the service provider can point an integration at a custom authority."
    return cleaned, errors


def _same_custom(current: Integration | None, cleaned: dict[str, Any]) -> bool:
    """True when an edit keeps the custom authority the service provider set."""
    return current is not None and current.cloud == "custom" and all(
        getattr(current, key) == cleaned[key] for key in ("authority_url", "graph_endpoint", "ca_bundle"))


def snapshot(integration: Integration) -> dict[str, Any]:
    """The administrator-set values of an integration, for the audit log (never the secret)."""
    return {key: getattr(integration, key) for key in FIELDS}


def create_integration(data: IntegrationInput, *, owner: Tenant | None,
                       allow_custom: bool = True) -> Integration:
    """Validate and add an integration (caller commits); raises ValidationFailed."""
    cleaned, errors = validate_integration(data, creating=True, allow_custom=allow_custom)
    if errors:
        raise ValidationFailed(errors)
    integration = Integration(owner_tenant_id=owner.id if owner else None,
                              client_secret_enc=encrypt(data.client_secret.strip()), **cleaned)
    db.session.add(integration)
    db.session.flush()
    audit.record("integration.created", tenant_id=integration.owner_tenant_id, target=integration,
                 details={"after": snapshot(integration), "client_secret_changed": True})
    return integration


def update_integration(integration: Integration, data: IntegrationInput, *, expected_version: Any,
                       allow_custom: bool = True) -> bool:
    """Validate and apply an edit (caller commits); True if anything changed.

    Raises ValidationFailed, or EditConflict when someone saved since the form was opened.
    """
    if str(expected_version) != str(integration.version):
        raise EditConflict()
    cleaned, errors = validate_integration(data, creating=False, allow_custom=allow_custom,
                                           current=integration)
    if errors:
        raise ValidationFailed(errors)
    before = snapshot(integration)
    for key, value in cleaned.items():
        setattr(integration, key, value)
    secret = data.client_secret.strip()
    if secret:
        integration.client_secret_enc = encrypt(secret)
    details = audit.changes(before, snapshot(integration))
    if not details["after"] and not secret:
        return False
    if secret:
        details["client_secret_changed"] = True
    audit.record("integration.updated", tenant_id=integration.owner_tenant_id, target=integration,
                 details=details)
    try:
        db.session.flush()
    except StaleDataError as exc:  # saved by someone else between our read and our write
        db.session.rollback()
        raise EditConflict() from exc
    return True


def connections_of(integration: Integration) -> list[Connection]:
    """Every connection of an integration, whatever tenant it belongs to."""
    return list(db.session.scalars(select(Connection).where(Connection.integration_id == integration.id)
                                   .order_by(Connection.org_name, Connection.id)))


def confirmation_token(connections: list[Connection]) -> str:
    """What the second confirmation page posts back: the ids it listed."""
    return ",".join(str(c.id) for c in sorted(connections, key=lambda c: c.id))


def delete_integration(integration: Integration, confirmed: str | None = None) -> Outcome:
    """Delete an integration; with connections, only when the confirmation names exactly them."""
    connections = connections_of(integration)
    if connections and confirmed != confirmation_token(connections):
        return Outcome(False, "has_connections", f"“{integration.name}” has {len(connections)} "
                       "connection(s). Review them, then confirm to disconnect and delete them too.")
    for conn in connections:
        links = db.session.scalar(select(func.count(LinkedAccount.id))
                                  .where(LinkedAccount.connection_id == conn.id))
        audit.record("connection.deleted", tenant_id=conn.tenant_id, target=conn,
                     target_label=conn.org_name or conn.org_tid or "",
                     details={"reason": "integration_deleted", "integration_id": integration.id,
                              "org_tid": conn.org_tid, "status": conn.status, "linked_accounts": links})
    ids = [c.id for c in connections]
    if ids:
        db.session.execute(delete(LinkedAccount).where(LinkedAccount.connection_id.in_(ids)))
        db.session.execute(delete(Connection).where(Connection.id.in_(ids)))
    audit.record("integration.deleted", tenant_id=integration.owner_tenant_id, target=integration,
                 details={"before": snapshot(integration), "connections_deleted": len(ids)})
    db.session.delete(integration)
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        return Outcome(False, "conflict", "Someone else changed this integration meanwhile; nothing "
                       "was deleted. Review it and try again.")
    return Outcome(True, "deleted", f"Integration “{integration.name}” deleted"
                   + (f" with its {len(ids)} connection(s)." if ids else "."))


def settings_summary(integration: Integration) -> dict[str, Any]:
    """What the Settings tab shows: where to register, how to consent, which endpoints are used."""
    try:
        authority = clouds.authority_base(integration)
        consent = clouds.admin_consent_url(integration, "organizations")
        graph = clouds.graph_base(integration)
    except (clouds.CloudError, KeyError):  # a row written around the validation: say so, never 500
        authority = consent = graph = None
    return {"redirect_uri": clouds.redirect_uri(integration), "authority": authority,
            "consent_url": consent, "graph": graph,
            "cloud_label": clouds.CLOUD_LABELS.get(integration.cloud, integration.cloud),
            "secret_set": bool(integration.client_secret_enc)}
