"""Password Policy in headless Chromium: restricted domains with and without JavaScript, Mandatory refused."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from app.accounts import NewUser, create_tenant, create_user
from app.extensions import db

PASSWORD = "Demo-Password-1"


def seed(app):
    with app.app_context():
        tenant = create_tenant("Contoso Call Center")
        create_user(tenant, NewUser("megan", "megan@contoso.com", "Megan Bowen", "tenant_admin", password=PASSWORD))
        db.session.commit()


def sign_in(page):
    page.goto("/login")
    page.get_by_label("Login").fill("megan")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, Megan Bowen")).to_be_visible()


@pytest.fixture
def csp_errors(page):
    """Console errors such as CSP violations (the page must need no inline script)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    return errors


def test_domains_add_remove_save_and_mandatory_refused(live_server, page, shot, csp_errors):
    seed(live_server.app)
    sign_in(page)
    page.get_by_role("button", name="Administration").click()  # the Bootstrap dropdown
    page.locator("#topnav").get_by_role("link", name="Password Policy").click()
    expect(page.get_by_role("heading", name="Password Policy")).to_be_visible()
    expect(page.get_by_label("breadcrumb")).to_contain_text("Administration")
    page.get_by_role("link", name="Edit Configuration").click()

    rows = page.locator("[data-domain-row]")
    expect(rows).to_have_count(0)
    page.get_by_role("button", name="+ Add Email domain").click()
    page.get_by_label("Email domain 1").fill("Contoso.com")
    page.get_by_role("button", name="+ Add Email domain").click()
    page.get_by_label("Email domain 2").fill("example.org")
    expect(rows).to_have_count(2)
    rows.nth(0).get_by_role("button", name=re.compile("Remove")).click()
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Email domain 1")).to_have_value("example.org")
    shot("edit-domains")
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.get_by_role("heading", name="Confirm Password Policy changes")).to_be_visible()
    expect(page.get_by_test_id("locked-out-count")).to_have_text("No user would lose access")
    page.get_by_role("button", name="Confirm and save").click()

    expect(page.get_by_text("Password policy saved.")).to_be_visible()
    expect(page.get_by_test_id("restricted-domains")).to_have_text("example.org")
    expect(page.get_by_test_id("sso-mode")).to_have_text("Enabled")
    shot("view")

    page.get_by_role("link", name="Edit Configuration").click()
    page.get_by_label("Mandatory").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("refusal")).to_contain_text(
        "Single Sign-On cannot be Mandatory: this tenant has no connected Microsoft organization")
    expect(page.get_by_label("Mandatory")).to_be_checked()
    expect(page.get_by_label("Email domain 1")).to_have_value("example.org")
    shot("mandatory-refused")
    page.goto("/admin/user-authentication/password-policy")
    expect(page.get_by_test_id("sso-mode")).to_have_text("Enabled")
    assert not [e for e in csp_errors if "Content Security Policy" in e], csp_errors


def test_domains_without_javascript(live_server, browser, browser_context_args):
    seed(live_server.app)
    ctx = browser.new_context(**{**browser_context_args, "base_url": live_server.url, "java_script_enabled": False})
    try:
        page = ctx.new_page()
        sign_in(page)
        page.goto("/admin/user-authentication/password-policy/edit")
        page.get_by_label("Minimum password length").fill("12")
        page.get_by_role("button", name="+ Add Email domain").click()  # a round trip to the server
        page.get_by_label("Email domain 1").fill("a.example")
        page.get_by_role("button", name="+ Add Email domain").click()
        page.get_by_label("Email domain 2").fill("b.example")
        page.get_by_role("button", name="+ Add Email domain").click()
        page.get_by_label("Email domain 3").fill("not a domain")
        page.get_by_role("button", name="Remove a.example").click()
        expect(page.get_by_label("Email domain 1")).to_have_value("b.example")
        expect(page.get_by_label("Minimum password length")).to_have_value("12")
        page.get_by_label("Email domain 2").press("Enter")  # Enter saves; it must not press a "×"
        expect(page.get_by_text("“not a domain” is not a valid domain name")).to_be_visible()
        expect(page.get_by_label("Email domain 1")).to_have_value("b.example")
        page.get_by_label("Email domain 2").fill("")
        page.get_by_role("button", name="Save", exact=True).click()
        page.get_by_role("button", name="Confirm and save").click()
        expect(page.get_by_test_id("restricted-domains")).to_have_text("b.example")
        expect(page.get_by_test_id("min-length")).to_have_text("12 characters")
    finally:
        ctx.close()
