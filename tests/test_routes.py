"""Every route of app.url_map, as anonymous, user, tenant admin and service provider.

Each endpoint must be listed in ACCESS with who may open it; a new endpoint without an entry
fails here, so no page ships without deciding who sees it.
"""
from __future__ import annotations

import pytest
from werkzeug.routing import BuildError

from .conftest import sign_in

PUBLIC = "public"          # anyone, signed in or not
SIGNED_IN = "signed_in"    # any signed-in user
TENANT_ADMIN = "tenant_admin"  # tenant admins; service providers once a tenant is chosen
SP = "system_admin"        # service providers only
ADMIN = "admin"            # tenant admins and service providers (no tenant needs to be chosen)
OWNER = "owner"            # the owner's admins may change it; others see it read-only (403)
CALLBACK = "callback"      # the identity provider's redirect target: refuses without a flow

ACCESS = {
    "static": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "main.home": SIGNED_IN,
    "tenants.index": SP,
    "tenants.create": SP,
    "tenants.manage": SP,
    "tenants.stop_managing": SP,
    "auth.microsoft_start": PUBLIC,
    "auth.microsoft_callback": CALLBACK,
    "auth.microsoft_realm": PUBLIC,
    "auth.microsoft_admin_consent": PUBLIC,
    "auth.signed_out": PUBLIC,
    "auth.microsoft_link": SIGNED_IN,
    "auth.microsoft_unlink": SIGNED_IN,
    "integrations.index": ADMIN,
    "integrations.create": ADMIN,
    "integrations.view": ADMIN,
    "integrations.edit": OWNER,
    "integrations.delete": OWNER,
    "integrations.disconnect": ADMIN,
    "integrations.reconnect": ADMIN,
    "integrations.discard": ADMIN,
    "integrations.linked_accounts": ADMIN,
    "integrations.unlink": ADMIN,
    "auth.two_step": PUBLIC,  # only with a pending password sign-in; otherwise back to /login
    "profile.index": SIGNED_IN,
    "profile.password": SIGNED_IN,
    "profile.two_step": SIGNED_IN,
    "two_step.settings": TENANT_ADMIN,
    "users.index": TENANT_ADMIN,
    "users.create": TENANT_ADMIN,
    "users.view": TENANT_ADMIN,
    "users.edit": TENANT_ADMIN,
    "users.delete": TENANT_ADMIN,
    "users.reset_two_step": TENANT_ADMIN,
    "password_policy.view": TENANT_ADMIN,
    "password_policy.edit": TENANT_ADMIN,
    "password_policy.check_access": TENANT_ADMIN,
    "audit.index": TENANT_ADMIN,
    "tenants.reset_sso": SP,
    "connect.start": TENANT_ADMIN,
    "connect.admin_consent": TENANT_ADMIN,
    "connect.configure": TENANT_ADMIN,
    "connect.finish": TENANT_ADMIN,
    "connect.resume": TENANT_ADMIN,
    "connect.test": ADMIN,
}


def sample_args(rule, people) -> dict:
    """Values for a rule's URL parameters: rows of tenant A (the signed-in tenant)."""
    values = {}
    for arg in rule.arguments:
        if arg == "filename":
            values[arg] = "css/app.css"
        elif arg == "tenant_id":
            values[arg] = people["tenant_a"].id
        elif arg == "user_id":
            values[arg] = people["user_a"].id
        elif arg in ("integration_id", "connection_id", "link_id"):
            values[arg] = people["ids"][arg]
        else:
            raise AssertionError(f"give tests/test_routes.py a sample value for <{arg}>")
    return values


def expected(kind: str, role: str | None, method: str) -> set[int]:
    """Acceptable status codes for an access kind and a role (None: anonymous)."""
    if kind == PUBLIC:
        return {200, 302, 400, 405, 503}  # 503: the identity provider is not reachable
    if kind == CALLBACK:
        return {200, 302, 400}
    if role is None:
        return {302}
    if kind == SIGNED_IN:
        return {200, 302, 400, 404} if method == "POST" else {200, 302}
    if kind == TENANT_ADMIN:
        if role == "user":
            return {403}
        return {200, 302, 400}
    if kind == ADMIN:
        return {403} if role == "user" else {200, 302, 400}
    if kind == OWNER:
        return {403} if role == "user" else {200, 302, 400, 403}
    if kind == SP:
        return {403} if role != "system_admin" else {200, 302, 400}
    raise AssertionError(kind)


def routes(app):
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_endpoint_has_an_access_entry(app):
    missing = sorted({rule.endpoint for rule, _ in routes(app)} - set(ACCESS))
    assert not missing, f"add these endpoints to ACCESS in tests/test_routes.py: {missing}"


@pytest.fixture
def world(people):
    """people plus an integration with a connection of tenant A."""
    from app.extensions import db
    from app.models import Connection, Integration

    integration = Integration(name="Microsoft", client_id="c", app_domain="portal.example")
    db.session.add(integration)
    db.session.flush()
    connection = Connection(integration_id=integration.id, tenant_id=people["tenant_a"].id,
                            org_tid="2f870a33-6c74-4f7a-b649-fa528de82d21", org_name="Contoso", status="pending")
    db.session.add(connection)
    db.session.commit()
    from app.models import LinkedAccount

    link = LinkedAccount(connection_id=connection.id, user_id=people["user_a"].id, oid="oid-a")
    db.session.add(link)
    db.session.commit()
    return {**people, "ids": {"integration_id": integration.id, "connection_id": connection.id,
                              "link_id": link.id}}


@pytest.mark.parametrize("role", [None, "user", "tenant_admin", "system_admin"])
def test_every_route_as_every_role(app, client, world, role):
    people = world
    login = {None: None, "user": "user-a", "tenant_admin": "admin-a", "system_admin": "provider"}[role]
    if login:
        assert sign_in(client, login).status_code == 302
    if role == "system_admin":
        client.post(f"/admin/tenants/{people['tenant_a'].id}/manage")
    problems = []
    for rule, method in routes(app):
        kind = ACCESS.get(rule.endpoint)
        if kind is None or rule.endpoint in {"auth.logout", "tenants.stop_managing"}:
            continue  # logging out mid-walk would change the role under test
        if method != "GET" and role in ("tenant_admin", "system_admin"):
            continue  # admins' POSTs change state; their own tests cover them
        try:
            with app.test_request_context():
                from flask import url_for

                url = url_for(rule.endpoint, **sample_args(rule, people))
        except BuildError:
            continue
        status = client.open(url, method=method).status_code
        if status not in expected(kind, role, method):
            problems.append(f"{method} {url} ({rule.endpoint}) as {role}: {status}")
    assert not problems, "\n".join(problems)


def test_service_provider_without_a_tenant_is_sent_to_choose_one(app, client, world):
    tenant_pages = [r for r, m in routes(app) if ACCESS.get(r.endpoint) == TENANT_ADMIN and m == "GET"
                    and not r.arguments]
    assert tenant_pages, "no tenant pages found to check"
    sign_in(client, "provider")
    for rule in tenant_pages:
        response = client.get(rule.rule)
        assert response.status_code == 302 and "/admin/tenants" in response.headers["Location"], rule.rule
