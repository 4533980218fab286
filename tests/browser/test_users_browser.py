"""In Chromium: an admin creates a Single Sign-On user and sees the guide's warnings; a user sets up
2-step verification and signs in with codes from a real TOTP generator."""
from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import expect

from app.accounts import NewUser, create_tenant, create_user
from app.extensions import db

ADMIN_PASSWORD = "Demo-Password-1"
USER_PASSWORD = "Agent-Password-2"


def seed(app, *, totp_enabled: bool = False) -> None:
    """A tenant with an administrator and a user who requires 2-step verification."""
    with app.app_context():
        tenant = create_tenant("Contoso Call Center")
        tenant.policy.totp_enabled = totp_enabled
        create_user(tenant, NewUser("megan", "megan@contoso.com", "Megan Bowen", "tenant_admin",
                                    password=ADMIN_PASSWORD))
        create_user(tenant, NewUser("lee", "lee@contoso.com", "Lee Gu", "user", password=USER_PASSWORD,
                                    extra={"require_2fa": True}))
        db.session.commit()


def sign_in(page, login: str, password: str) -> None:
    """Fill in and send the login form."""
    page.goto("/login")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_admin_creates_a_single_sign_on_user_and_sees_the_warnings(live_server, page, shot):
    seed(live_server.app)
    sign_in(page, "megan", ADMIN_PASSWORD)
    expect(page.get_by_role("heading", name="Welcome, Megan Bowen")).to_be_visible()
    page.get_by_role("button", name="Administration").or_(page.get_by_role("link", name="Administration")).click()
    page.locator(".dropdown-menu").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.get_by_role("link", name="+ Add User").first.click()

    sso_warning = page.get_by_test_id("sso-warning")
    expect(sso_warning).to_be_hidden()
    expect(page.get_by_text("Important: If a user is set to Password, Single Sign-On is allowed")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("Nina Park")
    page.get_by_label("Login", exact=True).fill("nina")
    page.get_by_label("Email", exact=True).fill("nina@contoso.com")
    page.get_by_role("radio", name="Single Sign-On").check()
    expect(sso_warning).to_be_visible()
    expect(sso_warning).to_contain_text("Warning! This user could not sign in with Microsoft today")
    expect(page.get_by_test_id("sso-email-note")).to_contain_text(
        "the same email configured for the user in Azure Entra ID")
    expect(page.get_by_role("textbox", name="Repeat password")).to_be_hidden()
    page.get_by_label("Require 2-step verification for user login").check()
    expect(page.get_by_test_id("two-step-warning")).to_have_text(
        "Warning! 2-step verification is not enabled in the Administration -> User Authentication -> "
        "2-Step Verification")
    shot("new-sso-user")
    page.get_by_role("button", name="Create user").click()

    expect(page.get_by_text("User nina created.")).to_be_visible()
    expect(page.get_by_test_id("access-settings")).to_contain_text("Single Sign-On")
    expect(page.get_by_test_id("sso-warning")).to_contain_text(
        "The user's Microsoft organization is not connected to this tenant.")
    expect(page.get_by_test_id("two-step-warning")).to_be_visible()


def test_user_sets_up_two_step_verification_and_signs_in_with_a_code(live_server, page, shot):
    seed(live_server.app, totp_enabled=True)
    sign_in(page, "lee", USER_PASSWORD)
    expect(page.get_by_role("heading", name="Set up 2-step verification")).to_be_visible()
    expect(page.get_by_test_id("totp-qr")).to_be_visible()
    secret = re.sub(r"\s", "", page.get_by_test_id("totp-secret").inner_text())
    shot("enrol")
    page.get_by_label("Code").fill("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_test_id("two-step-error")).to_contain_text("That code is not right.")
    page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Welcome, Lee Gu")).to_be_visible()
    page.get_by_test_id("signed-in-user").click()
    expect(page.get_by_test_id("profile-two-step")).to_contain_text("On: after your password")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "lee", USER_PASSWORD)
    expect(page.get_by_role("heading", name="2-step verification")).to_be_visible()
    expect(page.get_by_test_id("totp-qr")).to_have_count(0)
    # The code of the current step was used to enrol; the next step's code is accepted (drift window).
    page.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time(), counter_offset=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Welcome, Lee Gu")).to_be_visible()
