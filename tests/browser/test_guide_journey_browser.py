"""The guide's journey in a real browser: the admin signs in with Microsoft, enforces SSO
(Mandatory), a user signs in with Microsoft, and the same user's password is refused."""
from __future__ import annotations

from playwright.sync_api import expect

from app.extensions import db
from app.models import Connection

from .conftest import PASSWORD, password_sign_in, pick_account
from ..emulator_fixtures import CLIENT_ID, CONTOSO_TID


def microsoft_sign_in(page, upn: str) -> None:
    page.goto("/login")
    page.get_by_role("button", name="Sign in with Microsoft").click()
    expect(page.get_by_role("heading", name="Pick an account")).to_be_visible()
    pick_account(page, upn)


def test_admin_enforces_sso_and_user_follows(live_sso, page, shot):
    live_sso.emulator.state.grant_admin_consent(CONTOSO_TID, CLIENT_ID)
    with live_sso.server.app.app_context():
        db.session.add(Connection(integration_id=live_sso.integration_id, tenant_id=live_sso.tenant_id,
                                  org_tid=CONTOSO_TID, org_name="Contoso", status="connected",
                                  auto_activation=True, verified_domains=["contoso.com"],
                                  authorized_by_name="Megan Bowen", authorized_by_email="megan@contoso.com"))
        db.session.commit()

    microsoft_sign_in(page, "megan@contoso.com")
    expect(page.get_by_role("heading", name="Welcome, Megan Bowen")).to_be_visible()
    expect(page.get_by_text("signed in with Microsoft")).to_be_visible()
    page.get_by_role("button", name="Administration").click()
    page.locator("#topnav").get_by_role("link", name="Password Policy").click()
    page.get_by_role("link", name="Edit Configuration").click()
    page.get_by_label("Mandatory").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name="Confirm Password Policy changes")).to_be_visible()
    shot("confirm-mandatory")
    page.get_by_role("button", name="Confirm and save").click()
    expect(page.get_by_test_id("sso-mode")).to_have_text("Mandatory")
    shot("mandatory")
    page.get_by_role("button", name="Sign out").click()

    microsoft_sign_in(page, "alex@contoso.com")
    expect(page.get_by_role("heading", name="Welcome, Alex Wilber")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    password_sign_in(page, "alex", PASSWORD)
    expect(page.get_by_test_id("login-error")).to_have_text("Invalid login or password.")
    shot("password-refused")
