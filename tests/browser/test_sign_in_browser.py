"""Sign in through the real login page in headless Chromium, see the home page, sign out."""
from __future__ import annotations

from playwright.sync_api import expect

from app.accounts import NewUser, create_tenant, create_user
from app.extensions import db


def seed(app):
    with app.app_context():
        tenant = create_tenant("Contoso Call Center")
        create_user(tenant, NewUser("megan", "megan@contoso.com", "Megan Bowen", "tenant_admin",
                                    password="Demo-Password-1"))
        db.session.commit()


def test_sign_in_home_and_sign_out(live_server, page, shot):
    seed(live_server.app)
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/login?next=%2F")
    page.get_by_label("Login").fill("megan")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("login-error")).to_have_text("Invalid login or password.")
    page.get_by_label("Password").fill("Demo-Password-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Welcome, Megan Bowen")).to_be_visible()
    expect(page.get_by_test_id("signed-in-user")).to_contain_text("megan")
    shot("home")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have been signed out.")).to_be_visible()
    page.goto("/")
    expect(page).to_have_url(f"{live_server.url}/login?next=%2F")


def test_service_provider_creates_a_tenant(live_server, page):
    with live_server.app.app_context():
        create_user(None, NewUser("provider", "ops@provider.example", "Provider Ops", "system_admin",
                                  password="Provider-Password-1"))
        db.session.commit()
    page.goto("/login")
    page.get_by_label("Login").fill("provider")
    page.get_by_label("Password").fill("Provider-Password-1")
    page.get_by_role("button", name="Sign in").click()
    page.goto("/admin/tenants/")
    expect(page.get_by_text("No tenants yet.")).to_be_visible()
    page.get_by_role("link", name="+ Add Tenant").first.click()
    page.get_by_label("Tenant name").fill("Northwind Traders")
    page.get_by_label("Administrator login").fill("nw-admin")
    page.get_by_label("Administrator email").fill("not-an-email")
    page.get_by_label("Administrator name").fill("Northwind Admin")
    page.get_by_label("Administrator password").fill("Northwind-Pass-1")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_text("Enter a valid email address")).to_be_visible()
    expect(page.get_by_label("Tenant name")).to_have_value("Northwind Traders")
    page.get_by_label("Administrator email").fill("admin@northwind.example")
    page.get_by_label("Administrator password").fill("Northwind-Pass-1")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("cell", name="Northwind Traders")).to_be_visible()
    expect(page.get_by_role("cell", name="northwind-traders")).to_be_visible()
