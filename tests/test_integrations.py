"""The Integrations pages and CLI over HTTP: who sees what, forms, connections, the secret."""
from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import func, select

from app.crypto import decrypt
from app.extensions import db
from app.models import AuditEvent, Connection, Integration, LinkedAccount

from .test_integrations_service import (SECRET, make_connection, make_integration, make_link)

BASE = "/admin/integrations"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audits(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def form(**overrides) -> dict:
    """A valid create/edit form."""
    values = {"name": "Microsoft", "description": "Log in to the application with your Microsoft "
              "account credentials", "app_domain": "ms-sso.contoso.example",
              "client_id": "11111111-2222-3333-4444-555555555555", "client_secret": SECRET,
              "cloud": "public", "authority_url": "", "graph_endpoint": "", "ca_bundle": "",
              "auto_activate": "y", "enabled": "y"}
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def body(response) -> str:
    return response.get_data(as_text=True)


# Create, view, edit

def test_service_provider_creates_a_system_wide_integration(client, people, login):
    login("provider")
    response = client.post(f"{BASE}/new", data=form())
    assert response.status_code == 302
    integration = db.session.scalars(select(Integration)).one()
    assert response.headers["Location"] == f"{BASE}/{integration.id}"
    assert integration.owner_tenant_id is None and integration.auto_activate and integration.enabled
    assert decrypt(integration.client_secret_enc) == SECRET
    assert audits("integration.created")[0].details["client_secret_changed"] is True
    page = body(client.get(response.headers["Location"]))
    for text in ("Administration", "System", "Integrations", "<h1 class=\"h3 mb-0\">Integration</h1>",
                 "Single Sign-On", "Microsoft", "ms-sso.contoso.example", "Edit", "Delete",
                 "https://ms-sso.contoso.example/auth/microsoft/callback", 'data-copy="redirect-uri"',
                 "/organizations/adminconsent?client_id=11111111-2222-3333-4444-555555555555",
                 "Grant admin consent for &lt;tenant name&gt;", "Entra ID &gt; Enterprise apps &gt; All Applications",
                 "Client secret</dt><dd class=\"col-sm-9\">set", "Auto-Activate SSO", "Settings", "Connections"):
        assert text in page, text
    listing = body(client.get(f"{BASE}/"))
    assert "Microsoft" in listing and "System-wide" in listing


def test_test_a_connection_button_only_when_the_wizard_exists(app, client, people, login):
    integration = make_integration()
    login("provider")
    page = body(client.get(f"{BASE}/{integration.id}"))
    assert ("Test a Connection" in page) == ("connect.test" in app.view_functions)


def test_tenant_admin_creates_edits_and_deletes_their_own(client, people, login):
    login("admin-a")
    response = client.post(f"{BASE}/new", data=form(name="Contoso app", auto_activate=None))
    integration = db.session.scalars(select(Integration)).one()
    assert response.status_code == 302 and integration.owner_tenant_id == people["tenant_a"].id
    assert not integration.auto_activate
    assert "Owned by Contoso Call Center" in body(client.get(f"{BASE}/{integration.id}/edit"))
    response = client.post(f"{BASE}/{integration.id}/edit",
                           data=form(name="Contoso SSO", client_secret="", version="1"))
    assert response.status_code == 302
    db.session.refresh(integration)
    assert integration.name == "Contoso SSO" and integration.version == 2
    assert audits("integration.updated")[0].tenant_id == people["tenant_a"].id
    assert client.post(f"{BASE}/{integration.id}/delete").status_code == 302
    assert count(Integration) == 0 and len(audits("integration.deleted")) == 1


def test_tenant_admin_cannot_point_at_a_custom_authority(client, people, login):
    login("admin-a")
    response = client.post(f"{BASE}/new", data=form(cloud="custom", authority_url="https://10.0.0.5"))
    assert "Only the service provider" in body(response) and count(Integration) == 0


def test_empty_list_offers_to_create(client, people, login):
    login("admin-a")
    page = body(client.get(f"{BASE}/"))
    assert "No integrations yet" in page and f'href="{BASE}/new"' in page


# Who sees what

def test_access_rules(client, people, login):
    system_wide = make_integration()
    theirs = make_integration(people["tenant_b"], name="Fabrikam app")
    conn_b = make_connection(theirs, people["tenant_b"], org_name="Fabrikam")
    conn_b_on_shared = make_connection(system_wide, people["tenant_b"], org_name="Fabrikam shared")
    login("admin-a")
    listing = body(client.get(f"{BASE}/"))
    assert "Microsoft" in listing and "Fabrikam app" not in listing
    for url in (f"{BASE}/{theirs.id}", f"{BASE}/{theirs.id}?tab=connections", f"{BASE}/{theirs.id}/edit",
                f"{BASE}/{theirs.id}/delete", f"{BASE}/connections/{conn_b.id}/linked-accounts",
                f"{BASE}/connections/{conn_b_on_shared.id}/linked-accounts", f"{BASE}/999999"):
        assert client.get(url).status_code == 404, url
    for url in (f"{BASE}/{theirs.id}/delete", f"{BASE}/connections/{conn_b.id}/disconnect",
                f"{BASE}/connections/{conn_b_on_shared.id}/disconnect",
                f"{BASE}/connections/{conn_b_on_shared.id}/discard"):
        assert client.post(url).status_code == 404, url
    # The system-wide integration: visible, read-only, its Connections tab usable.
    page = body(client.get(f"{BASE}/{system_wide.id}"))
    assert "read-only" in page and f"{BASE}/{system_wide.id}/edit" not in page
    assert client.get(f"{BASE}/{system_wide.id}/edit").status_code == 403
    assert client.post(f"{BASE}/{system_wide.id}/delete").status_code == 403
    assert "Fabrikam shared" not in body(client.get(f"{BASE}/{system_wide.id}?tab=connections"))
    assert count(Integration) == 2 and db.session.get(Connection, conn_b.id).status == "connected"


def test_users_are_refused(client, people, login):
    integration = make_integration()
    login("user-a")
    for url in (f"{BASE}/", f"{BASE}/new", f"{BASE}/{integration.id}"):
        assert client.get(url).status_code == 403


def test_anonymous_is_sent_to_sign_in(client, people):
    assert client.get(f"{BASE}/").status_code == 302


# Validation

@pytest.mark.parametrize("overrides, message", [
    ({"name": ""}, "Enter a name."),
    ({"client_id": "abc def"}, "cannot contain spaces"),
    ({"client_id": ""}, "Application (client) ID"),
    ({"client_secret": ""}, "Enter the client secret"),
    ({"app_domain": "portal.example.com/sso"}, "without a path"),
    ({"app_domain": "http://portal.example.com"}, "Plain http is allowed only"),
    ({"cloud": "mars"}, "Not a valid choice"),
    ({"authority_url": "https://login.example.com"}, "Only a custom authority"),
    ({"cloud": "custom", "authority_url": ""}, "Enter the authority URL"),
    ({"cloud": "custom", "authority_url": "http://idp.example"}, "https://"),
    ({"cloud": "custom", "authority_url": "https://idp.example", "graph_endpoint": "http://g"}, "Graph endpoint"),
    ({"cloud": "custom", "authority_url": "https://idp.example", "ca_bundle": "/no/such/file.pem"}, "no file"),
])
def test_bad_input_keeps_what_was_typed_and_writes_nothing(client, people, login, overrides, message):
    login("provider")
    before = count(AuditEvent)  # signing in is audited too
    typed = form(**overrides)
    response = client.post(f"{BASE}/new", data=typed)
    page = body(response)
    assert response.status_code == 200 and message in page
    assert "Please correct the highlighted fields." in page
    for field in ("name", "client_id", "app_domain", "authority_url", "ca_bundle"):
        if typed.get(field):
            assert f'value="{typed[field]}"' in page, field
    assert SECRET not in page
    assert count(Integration) == 0 and count(AuditEvent) == before


def test_edit_errors_change_nothing(client, people, login):
    integration = make_integration()
    login("provider")
    response = client.post(f"{BASE}/{integration.id}/edit", data=form(client_id="a b", name="New name",
                                                                        client_secret="", version="1"))
    assert response.status_code == 200 and 'value="New name"' in body(response)
    db.session.refresh(integration)
    assert integration.name == "Microsoft" and integration.version == 1 and not audits("integration.updated")


# The secret is write-only

def test_secret_is_kept_without_input_and_replaced_with_it(client, people, login):
    integration = make_integration()
    stored = integration.client_secret_enc
    login("provider")
    edit_page = body(client.get(f"{BASE}/{integration.id}/edit"))
    assert SECRET not in edit_page and stored not in edit_page and "Leave empty to keep" in edit_page
    client.post(f"{BASE}/{integration.id}/edit", data=form(client_secret="", description="Changed", version="1"))
    db.session.refresh(integration)
    assert integration.client_secret_enc == stored and integration.description == "Changed"
    client.post(f"{BASE}/{integration.id}/edit", data=form(client_secret="the-new-secret", version="2"))
    db.session.refresh(integration)
    assert decrypt(integration.client_secret_enc) == "the-new-secret"
    details = [e.details for e in audits("integration.updated")]
    assert "client_secret_changed" not in details[0] and details[1]["client_secret_changed"] is True


def test_stale_edit_is_refused_and_keeps_the_input(client, people, login):
    integration = make_integration()
    login("provider")
    integration.name = "Renamed by a colleague"
    db.session.commit()  # version 2 now; the form below was opened at version 1
    response = client.post(f"{BASE}/{integration.id}/edit",
                           data=form(name="My name", client_secret="", version="1"))
    page = body(response)
    assert response.status_code == 200 and "Someone else saved this integration" in page
    assert 'value="My name"' in page and 'name="version" type="hidden" value="2"' in page
    db.session.refresh(integration)
    assert integration.name == "Renamed by a colleague"
    # Saving again after being told is a deliberate overwrite.
    assert client.post(f"{BASE}/{integration.id}/edit",
                       data=form(name="My name", client_secret="", version="2")).status_code == 302
    db.session.refresh(integration)
    assert integration.name == "My name"


# Delete

def test_delete_is_refused_while_connections_exist_then_confirmed(client, people, login):
    integration = make_integration()
    conn = make_connection(integration, people["tenant_a"], org_name="Contoso Ltd")
    make_link(conn, people["user_a"])
    login("provider")
    response = client.post(f"{BASE}/{integration.id}/delete")
    assert response.headers["Location"] == f"{BASE}/{integration.id}/delete"
    assert count(Integration) == 1 and not audits("integration.deleted")
    page = body(client.get(response.headers["Location"]))
    assert "Contoso Ltd" in page and "Disconnect and delete 1 connection(s)" in page
    assert f'name="confirm_connections" type="hidden" value="{conn.id}"' in page
    response = client.post(f"{BASE}/{integration.id}/delete", data={"confirm_connections": str(conn.id)})
    assert response.headers["Location"] == f"{BASE}/"
    assert count(Integration) == count(Connection) == count(LinkedAccount) == 0
    assert len(audits("connection.deleted")) == 1 and len(audits("integration.deleted")) == 1


# Connections tab and actions

def test_connections_tab_lists_searches_and_pages(app, client, people, login):
    integration = make_integration()
    make_connection(integration, people["tenant_a"], org_name="Your Organization", tid="1111-aaaa")
    make_connection(integration, people["tenant_a"], org_name="Second Org", tid="2222-bbbb",
                    authorized_by_name="Megan Bowen", authorized_by_email="megan@second.example",
                    status="error", last_error="AADSTS7000215: Invalid client secret")
    make_connection(integration, people["tenant_b"], org_name="Fabrikam", tid="3333-cccc")
    login("admin-a")
    url = f"{BASE}/{integration.id}?tab=connections"
    page = body(client.get(url))
    for text in ("ORGANIZATION", "AUTHORIZED BY", "STATUS", "LINKED ACCOUNTS", "Your Organization",
                 "Admin Account(admin@example.com)", "Connected", "Error", "AADSTS7000215", "View",
                 "Search for text"):
        assert text in page, text
    assert "Fabrikam" not in page and "TENANT" not in page
    assert ("+ Add Connection" in page) == ("connect.start" in app.view_functions)
    assert "Second Org" in body(client.get(url + "&q=megan@second"))
    assert "Your Organization" not in body(client.get(url + "&q=2222-BB"))
    assert "No results found" in body(client.get(url + "&q=nothing-like-this"))
    app.config["PAGE_SIZE"] = 1
    first, second = body(client.get(url)), body(client.get(url + "&page=2"))
    assert "Page 1 of 2" in first and "Second Org" in first and "Your Organization" not in first
    assert "Page 2 of 2" in second and "Your Organization" in second


def test_service_provider_sees_all_tenants_or_the_chosen_one(client, people, login):
    integration = make_integration()
    make_connection(integration, people["tenant_a"], org_name="Contoso Ltd")
    make_connection(integration, people["tenant_b"], org_name="Fabrikam Inc")
    login("provider")
    url = f"{BASE}/{integration.id}?tab=connections"
    page = body(client.get(url))
    assert "TENANT" in page and "Contoso Ltd" in page and "Fabrikam Inc" in page
    client.post(f"/admin/tenants/{people['tenant_b'].id}/manage")
    page = body(client.get(url))
    assert "Fabrikam Inc" in page and "Contoso Ltd" not in page and "TENANT" not in page


def test_disconnect_reconnect_discard_are_audited(client, people, login):
    integration = make_integration()
    conn = make_connection(integration, people["tenant_a"])
    pending = make_connection(integration, people["tenant_a"], org_name="Half done", status="pending")
    login("admin-a")
    tab = f"{BASE}/{integration.id}?tab=connections"
    response = client.post(f"{BASE}/connections/{conn.id}/disconnect")
    assert response.headers["Location"] == tab
    assert db.session.get(Connection, conn.id).status == "disconnected"
    assert "Reconnect" in body(client.get(tab))
    client.post(f"{BASE}/connections/{conn.id}/reconnect")
    assert db.session.get(Connection, conn.id).status == "connected"
    assert "Discard" in body(client.get(tab))
    pending_id = pending.id
    client.post(f"{BASE}/connections/{pending_id}/discard")
    assert db.session.get(Connection, pending_id) is None
    client.post(f"{BASE}/connections/{conn.id}/discard")
    assert "Only a pending connection can be discarded" in body(client.get(tab))
    events = {e.action: e for e in db.session.scalars(select(AuditEvent))
              if e.action.startswith("connection.")}
    assert set(events) == {"connection.disconnected", "connection.reconnected", "connection.discarded"}
    assert all(e.tenant_id == people["tenant_a"].id and e.actor_label == "admin-a" for e in events.values())
    assert events["connection.disconnected"].details["after"] == {"status": "disconnected"}


def test_linked_accounts_view_search_and_unlink(client, people, login):
    integration = make_integration()
    conn = make_connection(integration, people["tenant_a"])
    link = make_link(conn, people["user_a"], oid="00000000-aaaa-oid", email_at_link="megan@contoso.com",
                     name_at_link="Megan Bowen")
    make_link(conn, people["admin_a"], oid="11111111-bbbb-oid")
    login("admin-a")
    url = f"{BASE}/connections/{conn.id}/linked-accounts"
    page = body(client.get(url))
    for text in ("user-a", "Megan Bowen", "megan@contoso.com", "00000000-aaaa-oid", "admin-a", "Unlink",
                 "Linked accounts"):
        assert text in page, text
    assert "2 <a" in body(client.get(f"{BASE}/{integration.id}?tab=connections"))
    searched = body(client.get(url + "?q=bbbb"))
    assert "admin-a" in searched and "megan@contoso.com" not in searched
    link_id = link.id
    response = client.post(f"{url}/{link_id}/unlink")
    assert response.headers["Location"] == url
    assert db.session.get(LinkedAccount, link_id) is None
    event = audits("link.removed")[0]
    assert event.target_id == people["user_a"].id and event.details["oid"] == "00000000-aaaa-oid"
    other = make_connection(integration, people["tenant_a"], org_name="Other")
    second = make_link(other, people["user_a"], oid="22222222-cccc-oid")
    assert client.post(f"{url}/{second.id}/unlink").status_code == 404  # not a link of this connection
    assert db.session.get(LinkedAccount, second.id) is not None


# CLI

def test_cli_create_and_list(runner, people, tmp_path):
    ok = runner.invoke(args=["integrations", "create", "--name", "Microsoft", "--client-id", "abc-123",
                             "--client-secret", SECRET, "--cloud", "public", "--app-domain", "sso.example.com",
                             "--auto-activate"])
    assert ok.exit_code == 0, ok.output
    assert "system-wide" in ok.output and "https://sso.example.com/auth/microsoft/callback" in ok.output
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n")
    owned = runner.invoke(args=["integrations", "create", "--name", "Emulator", "--client-id", "emu",
                                "--client-secret", "s", "--cloud", "custom", "--authority",
                                "https://127.0.0.1:8443/organizations", "--ca-bundle", str(pem),
                                "--app-domain", "http://127.0.0.1:5000", "--tenant", "contoso"])
    assert owned.exit_code == 0, owned.output
    row = db.session.scalars(select(Integration).where(Integration.name == "Emulator")).one()
    assert row.owner_tenant_id == people["tenant_a"].id and row.authority_url == "https://127.0.0.1:8443"
    make_connection(row, people["tenant_a"])
    listing = runner.invoke(args=["integrations", "list"])
    assert listing.exit_code == 0
    for text in ("Microsoft", "system-wide", "https://login.microsoftonline.com", "abc-123",
                 "sso.example.com", "auto-activate: yes", "enabled: yes", "owner: contoso",
                 "https://127.0.0.1:8443", "connections: 1"):
        assert text in listing.output, text
    assert SECRET not in listing.output + ok.output


@pytest.mark.parametrize("args, message", [
    (["--tenant", "nope"], "No tenant has the slug 'nope'"),
    (["--client-id", "a b"], "--client-id: A client ID cannot contain spaces."),
    (["--cloud", "custom"], "--authority: Enter the authority URL"),
    (["--cloud", "custom", "--authority", "https://idp.example", "--ca-bundle", "missing.pem"], "--ca-bundle"),
    (["--app-domain", ""], "--app-domain: Enter the portal's public host name"),
    (["--authority", "https://idp.example"], "--authority: Only a custom authority"),
])
def test_cli_errors_exit_1_and_write_nothing(runner, people, args, message):
    base = ["integrations", "create", "--name", "Microsoft", "--client-id", "abc", "--client-secret", SECRET,
            "--app-domain", "sso.example.com"]
    result = runner.invoke(args=base + args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert SECRET not in result.output and count(Integration) == 0 and count(AuditEvent) == 0


def test_cli_list_when_empty(runner, app):
    result = runner.invoke(args=["integrations", "list"])
    assert result.exit_code == 0 and "No integrations yet" in result.output


# The secret never shows

def test_client_secret_never_appears_in_pages_audit_or_logs(app, client, runner, people, login, caplog):
    caplog.set_level(logging.DEBUG)
    login("provider")
    pages = [client.post(f"{BASE}/new", data=form()), client.post(f"{BASE}/new", data=form(name=""))]
    integration = db.session.scalars(select(Integration)).one()
    conn = make_connection(integration, people["tenant_a"])
    make_link(conn, people["user_a"])
    i = integration.id
    for url in (f"{BASE}/", f"{BASE}/{i}", f"{BASE}/{i}?tab=connections", f"{BASE}/{i}/edit",
                f"{BASE}/{i}/delete", f"{BASE}/connections/{conn.id}/linked-accounts"):
        pages.append(client.get(url))
    pages.append(client.post(f"{BASE}/{i}/edit", data=form(client_secret=SECRET + "-2", version="1")))
    pages.append(client.post(f"{BASE}/{i}/edit", data=form(client_id="bad id", client_secret=SECRET + "-3",
                                                           version="2")))
    pages.append(client.post(f"{BASE}/{i}/edit", data=form(client_secret=SECRET, version="1")))  # stale
    pages.append(client.get(f"{BASE}/{i}"))
    cli = runner.invoke(args=["integrations", "list"]).output
    assert db.session.get(Integration, i).version == 2
    everything = "\n".join(body(p) for p in pages) + cli + caplog.text
    everything += json.dumps([[e.action, e.details, e.target_label] for e in db.session.scalars(select(AuditEvent))])
    assert SECRET not in everything  # also covers SECRET-2 and SECRET-3
    assert "integration.updated" in everything and "client_secret_changed" in everything
