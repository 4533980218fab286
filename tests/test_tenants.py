"""The service provider's Tenants page and acting for a tenant."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Tenant, User


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def form(**overrides):
    data = {"name": "Northwind Traders", "slug": "", "admin_login": "nw-admin",
            "admin_email": "admin@northwind.example", "admin_name": "Northwind Admin",
            "admin_password": "Northwind-Pass-1"}
    data.update(overrides)
    return data


def test_create_tenant_with_first_admin(client, people, login):
    login("provider")
    response = client.post("/admin/tenants/new", data=form())
    assert response.status_code == 302
    tenant = db.session.scalars(select(Tenant).where(Tenant.slug == "northwind-traders")).one()
    admin = db.session.scalars(select(User).where(User.login == "nw-admin")).one()
    assert admin.tenant_id == tenant.id and admin.role == "tenant_admin" and tenant.policy is not None
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.tenant_id == tenant.id)).all()
    assert {"tenant.created", "user.created"} <= set(actions)
    assert "Northwind Traders" in client.get("/admin/tenants/").get_data(as_text=True)


def test_new_admin_can_sign_in(client, people, login):
    login("provider")
    client.post("/admin/tenants/new", data=form())
    client.post("/logout")
    assert client.post("/login", data={"login": "NW-ADMIN", "password": "Northwind-Pass-1"}).status_code == 302


@pytest.mark.parametrize("overrides, message", [
    ({"admin_email": "not-an-email"}, "Enter a valid email address"),
    ({"admin_login": "has space"}, "cannot contain spaces"),
    ({"admin_login": "ADMIN-A"}, "already taken"),
    ({"slug": "contoso"}, "already has this slug"),
    ({"slug": "Bad Slug!"}, "lower-case letters"),
    ({"admin_password": "short"}, "The password needs"),
    ({"name": ""}, "Enter a name."),
])
def test_bad_input_keeps_what_was_typed_and_writes_nothing(client, people, login, overrides, message):
    login("provider")
    before = (count(Tenant), count(User), count(AuditEvent))
    response = client.post("/admin/tenants/new", data=form(**overrides))
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and message in body
    for field in ("admin_login", "admin_name"):
        value = form(**overrides)[field]
        if value:
            assert f'value="{value}"' in body
    assert (count(Tenant), count(User), count(AuditEvent)) == before


def test_tenant_search_and_empty_state(client, people, login):
    login("provider")
    body = client.get("/admin/tenants/?q=fabri").get_data(as_text=True)
    assert "Fabrikam Support" in body and "Contoso Call Center" not in body
    assert "No tenant matches" in client.get("/admin/tenants/?q=zzz").get_data(as_text=True)
    assert client.get("/admin/tenants/?page=junk").status_code == 200


def test_manage_a_tenant_shows_it_in_the_top_bar(client, people, login):
    login("provider")
    client.post(f"/admin/tenants/{people['tenant_b'].id}/manage")
    assert "Managing <strong>Fabrikam Support</strong>" in client.get("/").get_data(as_text=True)
    assert client.post("/admin/tenants/999999/manage").status_code == 404


def test_tenant_admin_cannot_open_tenants(client, people, login):
    login("admin-a")
    assert client.get("/admin/tenants/").status_code == 403
    assert client.post(f"/admin/tenants/{people['tenant_b'].id}/manage").status_code == 403
