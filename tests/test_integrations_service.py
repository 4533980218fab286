"""Integrations without HTTP: validation, create/update/delete, connection actions, scoping."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from app.accounts import ValidationFailed
from app.crypto import decrypt, encrypt
from app.extensions import db
from app.integrations import connections as conns
from app.integrations import scope, service
from app.integrations.service import IntegrationInput
from app.models import AuditEvent, Connection, Integration, LinkedAccount

SECRET = "Zq8~Unmistakable.Client_Secret-Value-4711"
DESCRIPTION = "Log in to the application with your Microsoft account credentials"
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n"


# Helpers shared with tests/test_integrations.py (rows written directly, as the brief asks).

def make_integration(owner=None, *, secret: str = SECRET, **fields) -> Integration:
    """An integration row (system-wide unless owner is a Tenant)."""
    values = {"name": "Microsoft", "description": DESCRIPTION, "app_domain": "portal.contoso.example",
              "client_id": "11111111-2222-3333-4444-555555555555", "cloud": "public"}
    values.update(fields)
    integration = Integration(owner_tenant_id=owner.id if owner else None,
                              client_secret_enc=encrypt(secret), **values)
    db.session.add(integration)
    db.session.commit()
    return integration


def make_connection(integration, tenant, *, org_name="Contoso Ltd", tid=None, status="connected",
                    **fields) -> Connection:
    """A connection row of an integration for a tenant."""
    conn = Connection(integration_id=integration.id, tenant_id=tenant.id, org_name=org_name,
                      org_tid=tid or f"tid-{org_name.lower().replace(' ', '-')}", status=status,
                      authorized_by_name=fields.pop("authorized_by_name", "Admin Account"),
                      authorized_by_email=fields.pop("authorized_by_email", "admin@example.com"), **fields)
    db.session.add(conn)
    db.session.commit()
    return conn


def make_link(connection, user, *, oid=None, **fields) -> LinkedAccount:
    """A linked account of a user through a connection."""
    link = LinkedAccount(connection_id=connection.id, user_id=user.id, oid=oid or f"oid-{user.login}",
                         email_at_link=fields.pop("email_at_link", user.email),
                         name_at_link=fields.pop("name_at_link", user.display_name), **fields)
    db.session.add(link)
    db.session.commit()
    return link


def data(**overrides) -> IntegrationInput:
    """Valid input for a public-cloud integration."""
    values = {"name": "Microsoft", "client_id": "11111111-2222-3333-4444-555555555555",
              "client_secret": SECRET, "cloud": "public", "app_domain": "portal.contoso.example",
              "description": DESCRIPTION}
    values.update(overrides)
    return IntegrationInput(**values)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def actions() -> list[str]:
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def pem(tmp_path):
    path = tmp_path / "idp-ca.pem"
    path.write_text(PEM)
    return path


# Validation

@pytest.mark.parametrize("overrides, field, message", [
    ({"name": "  "}, "name", "Enter a name."),
    ({"name": "x" * 201}, "name", "at most 200"),
    ({"client_id": ""}, "client_id", "Application (client) ID"),
    ({"client_id": "abc def"}, "client_id", "cannot contain spaces"),
    ({"client_id": "a" * 101}, "client_id", "at most 100"),
    ({"client_secret": ""}, "client_secret", "Enter the client secret"),
    ({"app_domain": ""}, "app_domain", "public host name"),
    ({"app_domain": "portal.example.com/path"}, "app_domain", "without a path"),
    ({"app_domain": "http://portal.example.com"}, "app_domain", "Plain http is allowed only"),
    ({"cloud": "mars"}, "cloud", "Choose a cloud"),
    ({"authority_url": "https://login.example.com"}, "authority_url", "Only a custom authority"),
    ({"cloud": "custom"}, "authority_url", "Enter the authority URL"),
    ({"cloud": "custom", "authority_url": "http://login.example.com"}, "authority_url", "https://"),
    ({"cloud": "custom", "authority_url": "https://idp.example", "graph_endpoint": "ftp://x"},
     "graph_endpoint", "Graph endpoint"),
    ({"cloud": "custom", "authority_url": "https://idp.example", "ca_bundle": "relative.pem"},
     "ca_bundle", "full path"),
    ({"cloud": "custom", "authority_url": "https://idp.example", "ca_bundle": "/nonexistent/ca.pem"},
     "ca_bundle", "no file"),
    ({"description": "d" * 2001}, "description", "at most 2000"),
])
def test_each_rule(app, overrides, field, message):
    cleaned, errors = service.validate_integration(data(**overrides), creating=True)
    assert field in errors and message in errors[field], errors


def test_valid_custom_authority_is_normalised(app, pem):
    cleaned, errors = service.validate_integration(data(
        cloud="custom", authority_url="https://login.example.test:8443/organizations/",
        graph_endpoint="https://graph.example.test/", ca_bundle=str(pem)), creating=True)
    assert errors == {}
    assert cleaned["authority_url"] == "https://login.example.test:8443"
    assert cleaned["graph_endpoint"] == "https://graph.example.test"
    assert cleaned["ca_bundle"] == str(pem)
    assert "client_secret" not in cleaned


def test_ca_bundle_must_hold_a_certificate(app, tmp_path):
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello")
    assert "BEGIN CERTIFICATE" in service.ca_bundle_error(str(not_pem))
    assert "no file" in service.ca_bundle_error(str(tmp_path))  # a directory is not a file


def test_secret_is_optional_on_edit_only(app):
    assert "client_secret" in service.validate_integration(data(client_secret=""), creating=True)[1]
    assert service.validate_integration(data(client_secret=""), creating=False)[1] == {}


def test_custom_authority_is_for_the_service_provider(app, people):
    custom = data(cloud="custom", authority_url="https://idp.example")
    _, errors = service.validate_integration(custom, creating=True, allow_custom=False)
    assert "Only the service provider" in errors["cloud"]
    # A tenant admin may still save an integration whose custom authority the provider set.
    current = make_integration(people["tenant_a"], cloud="custom", authority_url="https://idp.example")
    assert service.validate_integration(custom, creating=False, allow_custom=False, current=current)[1] == {}


# Create, update, delete

def test_create_encrypts_the_secret_and_audits_without_it(app, people):
    integration = service.create_integration(data(), owner=people["tenant_a"])
    db.session.commit()
    assert integration.owner_tenant_id == people["tenant_a"].id
    assert SECRET not in integration.client_secret_enc and decrypt(integration.client_secret_enc) == SECRET
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "integration.created")).one()
    assert event.details["client_secret_changed"] is True and SECRET not in str(event.details)
    assert event.tenant_id == people["tenant_a"].id


def test_create_with_errors_writes_nothing(app):
    with pytest.raises(ValidationFailed) as exc:
        service.create_integration(data(name="", client_id="a b"), owner=None)
    assert set(exc.value.errors) == {"name", "client_id"}
    db.session.rollback()
    assert count(Integration) == 0 and count(AuditEvent) == 0


def test_update_keeps_or_replaces_the_secret(app):
    integration = make_integration()
    old = integration.client_secret_enc
    assert service.update_integration(integration, data(client_secret="", name="Renamed"),
                                      expected_version=integration.version)
    db.session.commit()
    assert integration.client_secret_enc == old and integration.name == "Renamed"
    service.update_integration(integration, data(client_secret="brand-new-secret", name="Renamed"),
                               expected_version=integration.version)
    db.session.commit()
    assert decrypt(integration.client_secret_enc) == "brand-new-secret"
    updates = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "integration.updated")
                                 .order_by(AuditEvent.id)).all()
    assert updates[0].details["after"] == {"name": "Renamed"} and "client_secret_changed" not in updates[0].details
    assert updates[1].details == {"before": {}, "after": {}, "client_secret_changed": True}


def test_update_without_changes_records_nothing(app):
    integration = make_integration()
    assert service.update_integration(integration, data(client_secret=""), expected_version=1) is False
    assert "integration.updated" not in actions()


def test_stale_version_is_a_conflict(app):
    integration = make_integration()
    integration.name = "Changed elsewhere"
    db.session.commit()
    with pytest.raises(service.EditConflict):
        service.update_integration(integration, data(), expected_version=1)


def test_delete_with_connections_needs_the_exact_confirmation(app, people):
    integration = make_integration()
    first = make_connection(integration, people["tenant_a"])
    make_link(first, people["user_a"])
    outcome = service.delete_integration(integration)
    assert not outcome.ok and outcome.reason == "has_connections"
    token = service.confirmation_token(service.connections_of(integration))
    make_connection(integration, people["tenant_b"], org_name="Fabrikam")  # arrives meanwhile
    assert service.delete_integration(integration, token).reason == "has_connections"
    token = service.confirmation_token(service.connections_of(integration))
    outcome = service.delete_integration(integration, token)
    db.session.commit()
    assert outcome.ok and count(Integration) == count(Connection) == count(LinkedAccount) == 0
    assert actions().count("connection.deleted") == 2 and actions()[-1] == "integration.deleted"


def test_settings_summary(app):
    integration = make_integration(app_domain="http://127.0.0.1:5000")
    summary = service.settings_summary(integration)
    assert summary["redirect_uri"] == "http://127.0.0.1:5000/auth/microsoft/callback"
    assert summary["consent_url"].startswith("https://login.microsoftonline.com/organizations/adminconsent?")
    assert summary["secret_set"] and summary["cloud_label"] == "Azure public"


# Connection actions

def test_disconnect_reconnect_discard_unlink(app, people):
    integration = make_integration()
    conn = make_connection(integration, people["tenant_a"])
    assert conns.disconnect(conn).ok and conn.status == "disconnected"
    assert conns.disconnect(conn).reason == "not_connected"
    assert conns.discard(conn).reason == "not_pending"
    assert conns.reconnect(conn).ok and conn.status == "connected"
    assert conns.reconnect(conn).reason == "not_disconnected"
    pending = make_connection(integration, people["tenant_a"], org_name="Half done", status="pending")
    assert conns.discard(pending).ok
    link = make_link(conn, people["user_a"])
    assert conns.unlink(link).ok
    db.session.commit()
    assert count(LinkedAccount) == 0 and count(Connection) == 1
    assert actions() == ["connection.disconnected", "connection.reconnected", "connection.discarded",
                         "link.removed"]


def test_error_connection_can_be_disconnected_and_a_never_finished_one_not_reconnected(app, people):
    integration = make_integration()
    broken = make_connection(integration, people["tenant_a"], status="error", last_error="AADSTS7000215")
    assert conns.disconnect(broken).ok
    orphan = make_connection(integration, people["tenant_a"], org_name="X", status="disconnected")
    orphan.org_tid = None
    assert conns.reconnect(orphan).reason == "never_connected"


def test_like_pattern_escapes_wildcards():
    assert conns.like_pattern("50%_Off") == "%50\\%\\_off%"


def test_connections_query_search_and_tenant_filter(app, people):
    integration = make_integration()
    make_connection(integration, people["tenant_a"], org_name="Contoso Ltd", tid="aaaa-1111")
    make_connection(integration, people["tenant_b"], org_name="Fabrikam Inc", tid="bbbb-2222",
                    authorized_by_email="it@fabrikam.com")

    def names(tenant_id, q=""):
        return [c.org_name for c in db.session.scalars(conns.connections_query(integration, tenant_id, q))]

    assert names(None) == ["Contoso Ltd", "Fabrikam Inc"]
    assert names(people["tenant_a"].id) == ["Contoso Ltd"]
    assert names(None, "BBBB") == ["Fabrikam Inc"] and names(None, "it@fab") == ["Fabrikam Inc"]
    assert names(people["tenant_a"].id, "fabrikam") == [] and names(None, "%") == []


# Scoping decisions

def test_who_sees_and_edits_what():
    sp = SimpleNamespace(role="system_admin", tenant_id=None)
    admin_a = SimpleNamespace(role="tenant_admin", tenant_id=1)
    user_a = SimpleNamespace(role="user", tenant_id=1)
    system_wide, own, other = (SimpleNamespace(owner_tenant_id=v) for v in (None, 1, 2))
    assert [scope.can_view(sp, i) for i in (system_wide, own, other)] == [True, True, True]
    assert [scope.can_edit(sp, i) for i in (system_wide, own, other)] == [True, True, True]
    assert [scope.can_view(admin_a, i) for i in (system_wide, own, other)] == [True, True, False]
    assert [scope.can_edit(admin_a, i) for i in (system_wide, own, other)] == [False, True, False]
    assert not any(scope.can_view(user_a, i) for i in (system_wide, own, other))
    theirs = SimpleNamespace(tenant_id=2, integration=system_wide)
    mine = SimpleNamespace(tenant_id=1, integration=system_wide)
    assert scope.can_view_connection(admin_a, mine) and not scope.can_view_connection(admin_a, theirs)
    assert scope.may_use_custom_authority(sp) and not scope.may_use_custom_authority(admin_a)


def test_linked_accounts_query_searches_both_sides(app, people):
    integration = make_integration()
    conn = make_connection(integration, people["tenant_a"])
    make_link(conn, people["user_a"], oid="oid-1", email_at_link="megan@contoso.onmicrosoft.com",
              last_used_at=dt.datetime(2024, 1, 1))
    make_link(conn, people["admin_a"], oid="oid-2")

    def logins(q):
        return [link.user.login for link in db.session.scalars(conns.linked_accounts_query(conn, q))]

    assert logins("") == ["admin-a", "user-a"]
    assert logins("onmicrosoft") == ["user-a"] and logins("OID-2") == ["admin-a"]
