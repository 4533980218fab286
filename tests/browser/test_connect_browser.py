"""The guide's "Create SSO Connection" walk in a real browser, a screenshot at each step."""
from __future__ import annotations

from playwright.sync_api import expect

from .conftest import password_sign_in, pick_account


def test_wizard_as_the_guide_shows_it(live_sso, page, shot):
    password_sign_in(page, "megan")
    page.get_by_role("button", name="Administration").click()
    page.locator(".dropdown-menu").get_by_role("link", name="Integrations").click()
    expect(page.get_by_role("navigation", name="breadcrumb")).to_contain_text("Administration")
    page.get_by_role("link", name="Microsoft").first.click()
    expect(page.get_by_role("heading", name="Integration")).to_be_visible()
    page.get_by_role("link", name="Connections").click()
    expect(page.get_by_text("No results found")).to_be_visible()
    shot("1-integration-connections")
    page.get_by_role("link", name="+ Add Connection").click()
    expect(page.get_by_text("Step 1. Getting started")).to_be_visible()
    shot("2-step1")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Pick an account")).to_be_visible()
    shot("3-pick-an-account")
    pick_account(page, "megan@contoso.com")
    expect(page.get_by_role("heading", name="Permissions requested")).to_be_visible()
    page.get_by_label("Consent on behalf of your organization").check()
    shot("4-permissions")
    page.get_by_role("button", name="Accept").click()
    expect(page.get_by_text("Automatically activate Single Sign-On when users log in with a matching email address")).to_be_visible()
    page.get_by_label("Automatic activation").check()
    shot("5-step2-configure")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("connection-status")).to_have_text("Connected")
    expect(page.get_by_test_id("finish-table")).to_contain_text("Read organization info")
    expect(page.get_by_test_id("finish-table")).to_contain_text("Contoso")
    shot("6-step3-finish")
    page.get_by_role("link", name="Close").click()
    expect(page.get_by_role("cell", name="Megan Bowen(megan@contoso.com)")).to_be_visible()
    expect(page.get_by_text("Connected").first).to_be_visible()
    shot("7-connected")
