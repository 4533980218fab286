"""The Connect service (Microsoft) wizard and Test a Connection, end to end against the emulator."""
from __future__ import annotations

import logging

from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Connection

from .emulator_fixtures import CLIENT_ID, CLIENT_SECRET, CONTOSO_TID, FABRIKAM_TID, make_browser
from .sso_helpers import callback, connect, drive, sso  # noqa: F401  (fixture)


def start_wizard(client, integration):
    page = client.get(f"/admin/integrations/{integration.id}/connect")
    assert page.status_code == 200 and "Step 1. Getting started" in page.get_data(as_text=True)
    response = client.post(f"/admin/integrations/{integration.id}/connect")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def connections() -> list[Connection]:
    return list(db.session.scalars(select(Connection)))


def test_wizard_connects_contoso_and_shows_the_organization(client, sso, login):
    login("admin-a")
    trip = drive(client, sso["emulator"], start_wizard(client, sso["integration"]), "megan@contoso.com",
                 on_behalf=True)
    assert trip.response.status_code == 302 and "/configure" in trip.response.headers["Location"]
    pending = connections()[0]
    assert pending.status == "pending" and pending.org_tid == CONTOSO_TID and pending.org_name == "Contoso"
    step2 = client.get(trip.response.headers["Location"]).get_data(as_text=True)
    assert "Automatically activate Single Sign-On when users log in with a matching email address" in step2
    done = client.post(trip.response.headers["Location"], data={"auto_activation": "y"})
    assert done.status_code == 302
    step3 = client.get(done.headers["Location"]).get_data(as_text=True)
    for text in ("Read organization info", "OAuth Subject", "Org ID", "User ID", "Finalize", "Connected",
                 CONTOSO_TID, "megan@contoso.com", "a97c6f1d-5e74-432d-8d32-a925c7f2b087"):
        assert text in step3, text
    connection = connections()[0]
    assert connection.status == "connected" and connection.auto_activation is True
    assert set(connection.verified_domains) == {"contoso.com", "contoso.onmicrosoft.com"}
    assert connection.tenant_id == sso["tenant_a"].id


def test_closing_the_tab_after_step1_leaves_a_pending_connection_to_resume(client, sso, login):
    login("admin-a")
    drive(client, sso["emulator"], start_wizard(client, sso["integration"]), "megan@contoso.com", on_behalf=True)
    connection = connections()[0]
    assert connection.status == "pending"
    resumed = client.post(f"/admin/connections/{connection.id}/resume")
    assert resumed.status_code == 302 and resumed.headers["Location"].endswith(f"/connections/{connection.id}/configure")


def test_fabrikam_needs_admin_approval_then_connects_after_admin_consent(client, sso, login):
    login("admin-b")
    browser = make_browser(sso["emulator"])
    browser.open(start_wizard(client, sso["integration"]))
    browser.pick("ben@fabrikam.com")
    assert "approval" in browser.text.lower()
    browser.follow_link("return")
    page = callback(client, browser.redirect_url)
    body = page.get_data(as_text=True)
    assert "Approval required" in body and "Grant admin consent for &lt;tenant name&gt;" in body
    assert connections() == []
    consent = client.post(f"/admin/integrations/{sso['integration'].id}/admin-consent")
    assert consent.status_code == 302 and "/adminconsent?" in consent.headers["Location"]
    browser = make_browser(sso["emulator"])
    browser.open(consent.headers["Location"])
    browser.pick("fiona@fabrikam.com")
    if not browser.done:
        browser.accept()
    assert browser.redirect_params.get("admin_consent") == "True"
    restarted = callback(client, browser.redirect_url)  # the wizard signs in again for real
    assert restarted.status_code == 302
    trip = drive(client, sso["emulator"], restarted.headers["Location"], "fiona@fabrikam.com")
    assert "/configure" in trip.response.headers["Location"]
    assert connections()[0].org_tid == FABRIKAM_TID


def test_forged_callbacks_are_refused(client, sso, login):
    login("admin-a")
    # Without a state (a shared admin-consent link) Microsoft's answer is acknowledged, never trusted.
    forged = client.get("/auth/microsoft/callback", query_string={"admin_consent": "True", "tenant": FABRIKAM_TID})
    assert forged.status_code == 200 and "Microsoft has recorded" in forged.get_data(as_text=True)
    wrong_state = client.get("/auth/microsoft/callback", query_string={"code": "x", "state": "not-ours"})
    assert wrong_state.status_code == 400
    start_wizard(client, sso["integration"])  # a real flow exists; a guessed state still matches nothing
    forged_state = client.get("/auth/microsoft/callback",
                              query_string={"admin_consent": "True", "tenant": FABRIKAM_TID, "state": "guess"})
    assert forged_state.status_code == 200 and "Microsoft has recorded" in forged_state.get_data(as_text=True)
    assert connections() == []
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "consent.granted")) == 0
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "callback.refused")).all()
    assert len(refused) == 3 and all(e.details["reason"] == "state_unknown_or_foreign" for e in refused)


def test_organization_of_another_tenant_cannot_be_connected_again(client, sso, login):
    connect(sso["integration"], sso["tenant_b"])  # Contoso already belongs to tenant B
    login("admin-a")
    trip = drive(client, sso["emulator"], start_wizard(client, sso["integration"]), "megan@contoso.com",
                 on_behalf=True)
    assert trip.response.status_code == 409 and "already connected to another tenant" in trip.text
    assert [c.tenant_id for c in connections()] == [sso["tenant_b"].id]


def test_connecting_twice_in_one_tenant_updates_the_connection(client, sso, login):
    login("admin-a")
    for _ in range(2):
        trip = drive(client, sso["emulator"], start_wizard(client, sso["integration"]), "megan@contoso.com",
                     on_behalf=True)
        client.post(trip.response.headers["Location"], data={"auto_activation": "y"})
    assert len(connections()) == 1 and connections()[0].status == "connected"


def test_cancel_explains_and_connects_nothing(client, sso, login):
    login("admin-a")
    trip = drive(client, sso["emulator"], start_wizard(client, sso["integration"]), "megan@contoso.com",
                 accept=False)
    assert "Connection cancelled" in trip.text and connections() == []


def test_test_a_connection_after_consent_is_revoked(client, sso, login, caplog):
    caplog.set_level(logging.DEBUG)
    login("admin-a")
    trip = drive(client, sso["emulator"], start_wizard(client, sso["integration"]), "megan@contoso.com",
                 on_behalf=True)
    client.post(trip.response.headers["Location"], data={"auto_activation": "y"})
    ok = client.post(f"/admin/integrations/{sso['integration'].id}/test")
    assert ok.status_code == 200 and "Connected" in ok.get_data(as_text=True)
    assert connections()[0].status == "connected"
    sso["emulator"].state.revoke_consent(CONTOSO_TID, CLIENT_ID)
    from app.auth import microsoft

    microsoft._HTTP_CACHE.clear()
    failed = client.post(f"/admin/integrations/{sso['integration'].id}/test").get_data(as_text=True)
    assert "consent was revoked" in failed
    connection = connections()[0]
    assert connection.status == "error" and "consent was revoked" in connection.last_error
    everything = failed + trip.text + " ".join(str(e.details) for e in db.session.scalars(select(AuditEvent)))
    assert CLIENT_SECRET not in everything and CLIENT_SECRET not in caplog.text


def test_test_a_connection_with_a_wrong_secret_and_a_slow_provider(app, client, sso, login):
    connect(sso["integration"], sso["tenant_a"])
    sso["emulator"].state.grant_admin_consent(CONTOSO_TID, CLIENT_ID)
    login("admin-a")
    from app import crypto

    sso["integration"].client_secret_enc = crypto.encrypt("not-the-secret")
    db.session.commit()
    body = client.post(f"/admin/integrations/{sso['integration'].id}/test").get_data(as_text=True)
    assert "client secret no longer works" in body
    sso["integration"].client_secret_enc = crypto.encrypt(CLIENT_SECRET)
    db.session.commit()
    app.config["IDP_TIMEOUT_SECONDS"] = 1
    sso["emulator"].state.set_delay(3)
    body = client.post(f"/admin/integrations/{sso['integration'].id}/test").get_data(as_text=True)
    assert "did not answer in time" in body


def test_tenant_admin_cannot_touch_another_tenants_connection(client, sso, login):
    other = connect(sso["integration"], sso["tenant_b"], status="pending")
    login("admin-a")
    assert client.get(f"/admin/connections/{other.id}/configure").status_code == 404
    assert client.post(f"/admin/connections/{other.id}/resume").status_code == 404
    assert client.get(f"/admin/connections/{other.id}/finish").status_code == 404


def test_service_provider_tests_every_connection_without_choosing_a_tenant(client, sso, login):
    connect(sso["integration"], sso["tenant_a"])
    connect(sso["integration"], sso["tenant_b"], FABRIKAM_TID, domains=["fabrikam.com"], name="Fabrikam")
    sso["emulator"].state.grant_admin_consent(CONTOSO_TID, CLIENT_ID)
    login("provider")
    body = client.post(f"/admin/integrations/{sso['integration'].id}/test").get_data(as_text=True)
    assert "Contoso" in body and "Fabrikam" in body
    statuses = {c.org_name: c.status for c in connections()}
    assert statuses == {"Contoso": "connected", "Fabrikam": "error"}
