"""Password Policy: the form, the Mandatory safeguards, the lockout preview, break glass, Check access."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import (
    ROLE_TENANT_ADMIN,
    AuditEvent,
    Connection,
    Integration,
    LinkedAccount,
    PasswordPolicy,
    User,
)
from app.password_policy import service
from app.password_policy.forms import DOMAIN_MISMATCH_NOTE, MANDATORY_NOTE, RESTRICTED_DOMAINS_HELP
from app.password_policy.preview import lockout_preview

from .conftest import sign_in

EDIT = "/admin/user-authentication/password-policy/edit"
VIEW = "/admin/user-authentication/password-policy"
CHECK = "/admin/user-authentication/check-access"


# ---- helpers: connections and links are plain rows --------------------------------------------
def connect(tenant, *, status="connected", enabled=True, auto=True, verified=("contoso.com",), tid="org-1"):
    """A Microsoft organization connected to the tenant through its own integration."""
    integration = Integration(name=f"Microsoft {tid}", client_id=f"client-{tid}", enabled=enabled,
                              owner_tenant_id=None)
    db.session.add(integration)
    db.session.flush()
    conn = Connection(integration_id=integration.id, tenant_id=tenant.id, org_tid=tid, org_name="Contoso Ltd",
                      verified_domains=list(verified), auto_activation=auto, status=status)
    db.session.add(conn)
    db.session.commit()
    return conn


def link(user, conn, oid=None):
    db.session.add(LinkedAccount(connection_id=conn.id, user_id=user.id, oid=oid or f"oid-{user.id}",
                                 email_at_link=user.email))
    db.session.commit()


def policy_of(tenant) -> PasswordPolicy:
    db.session.expire_all()
    return db.session.scalars(select(PasswordPolicy).where(PasswordPolicy.tenant_id == tenant.id)).one()


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def form(policy=None, **over):
    """The edit form as a browser posts it (the saved values unless overridden)."""
    data = {"version": str(policy.version) if policy else "1", "sso_mode": "enabled", "min_length": "10",
            "require_upper": "y", "require_lower": "y", "require_digit": "y",
            "max_failed_attempts": "5", "lockout_minutes": "15"}
    domains = over.pop("domains", [])
    data.update({k: v for k, v in over.items() if v is not None})
    for key in [k for k, v in over.items() if v is None]:
        data.pop(key, None)
    for i, d in enumerate(domains):
        data[f"domains-{i}"] = d
    return data


def text(response) -> str:
    return response.get_data(as_text=True)


def values_of(body: str, prefix: str = "domains-") -> list[str]:
    """The values of the domain inputs in page order."""
    return re.findall(r'name="' + prefix + r'\d+"[^>]*value="([^"]*)"', body) or \
        re.findall(r'value="([^"]*)"[^>]*name="' + prefix + r'\d+"', body)


@pytest.fixture
def admin(client, people, login):
    login("admin-a")
    return people["admin_a"]


# ---- view and form ---------------------------------------------------------------------------------
def test_view_shows_the_policy_with_edit_configuration(client, people, admin):
    body = text(client.get(VIEW))
    assert "Edit Configuration" in body and 'href="/admin/user-authentication/password-policy/edit"' in body
    assert '<li class="breadcrumb-item">Administration</li>' in body
    assert "User Authentication" in body and "Password Policy" in body
    assert "Enabled" in body and "None: SSO is allowed for all email addresses." in body


def test_edit_shows_the_guide_labels_and_help_texts_verbatim(client, people, admin):
    body = text(client.get(EDIT))
    for words in ("Single Sign-On", "Enabled", "Disabled", "Mandatory", "Restricted domains",
                  "+ Add Email domain", RESTRICTED_DOMAINS_HELP, MANDATORY_NOTE, DOMAIN_MISMATCH_NOTE):
        assert words in body, words
    assert "<strong>Important:</strong> If SSO is enforced for the entire organization" in body
    assert "A service provider acting for this tenant needs only the connected organization" in body


def test_pages_are_for_admins_of_the_tenant(client, people, login):
    assert client.get(VIEW).status_code == 302
    login("user-a")
    for url in (VIEW, EDIT, CHECK):
        assert client.get(url).status_code == 403
    assert client.post(EDIT, data=form()).status_code == 403


def test_add_domain_without_javascript_keeps_everything_typed_and_saves_nothing(client, people, admin):
    response = client.post(EDIT, data=form(min_length="12", domains=["Contoso.com"], add_domain="1"))
    assert response.status_code == 200
    body = text(response)
    assert values_of(body) == ["Contoso.com", ""]
    assert 'value="12"' in body
    assert policy_of(people["tenant_a"]).min_length == 10 and not events("policy.updated")


def test_remove_domain_without_javascript(client, people, admin):
    response = client.post(EDIT, data=form(domains=["a.example", "b.example", "c.example"], remove_domain="1",
                                           lockout_minutes="20"))
    body = text(response)
    assert values_of(body) == ["a.example", "c.example"]
    assert 'name="domains-1"' in body and 'name="domains-2"' not in body  # renumbered
    assert 'value="20"' in body
    assert policy_of(people["tenant_a"]).restricted_domains == []


def test_save_password_rules_is_audited_with_before_and_after(client, people, admin):
    policy = policy_of(people["tenant_a"])
    response = client.post(EDIT, data=form(policy, min_length="14", require_symbol="y", lockout_minutes="30"))
    assert response.status_code == 302 and response.headers["Location"].endswith(VIEW)
    policy = policy_of(people["tenant_a"])
    assert (policy.min_length, policy.require_symbol, policy.lockout_minutes) == (14, True, 30)
    event = events("policy.updated")[-1]
    assert event.details["before"] == {"min_length": 10, "require_symbol": False, "lockout_minutes": 15}
    assert event.details["after"] == {"min_length": 14, "require_symbol": True, "lockout_minutes": 30}
    assert event.tenant_id == people["tenant_a"].id and event.actor_label == "admin-a"
    assert "Password policy saved." in text(client.get(VIEW))


def test_unchanged_save_writes_nothing(client, people, admin):
    response = client.post(EDIT, data=form(policy_of(people["tenant_a"])))
    assert response.status_code == 302 and not events("policy.updated")


def test_new_domain_list_is_confirmed_then_saved_normalised(client, people, admin, factory):
    sso_out = factory.user(people["tenant_a"], "sso-out", email="sso-out@fabrikam.com", auth_type="sso",
                           password=False)
    link(sso_out, connect(people["tenant_a"], verified=["contoso.com", "fabrikam.com"]))
    policy = policy_of(people["tenant_a"])
    data = form(policy, domains=[" Contoso.COM. ", "", "bücher.example"])
    first = client.post(EDIT, data=data)
    assert first.status_code == 200
    body = text(first)
    assert "Confirm Password Policy changes" in body and "sso-out" in body
    assert "1 user would lose access" in body
    assert policy_of(people["tenant_a"]).restricted_domains == []  # not saved yet
    saved = client.post(EDIT, data={**data, "confirm": "1"})
    assert saved.status_code == 302
    assert policy_of(people["tenant_a"]).restricted_domains == ["contoso.com", "xn--bcher-kva.example"]
    event = events("policy.updated")[-1]
    assert event.details["after"]["restricted_domains"] == ["contoso.com", "xn--bcher-kva.example"]
    assert event.details["impact"]["locked_out"] == 1


@pytest.mark.parametrize("bad,message", [
    ("user@contoso.com", "without “@”"),
    ("https://contoso.com", "without http://"),
    ("*.contoso.com", "wildcards are not allowed"),
    ("contoso", "not a valid domain name"),
    ("example.org", "listed twice"),
])
def test_bad_domain_entries_are_form_errors_that_keep_the_input(client, people, admin, bad, message):
    policy = policy_of(people["tenant_a"])
    response = client.post(EDIT, data=form(policy, min_length="11", domains=["example.org", bad]))
    assert response.status_code == 422
    body = text(response)
    assert message in body and "Please correct the highlighted fields." in body
    assert values_of(body) == ["example.org", bad]
    assert 'value="11"' in body
    assert policy_of(people["tenant_a"]).restricted_domains == [] and not events("policy.updated")


@pytest.mark.parametrize("field,value", [
    ("min_length", "7"), ("min_length", "129"), ("min_length", "abc"), ("min_length", ""),
    ("max_failed_attempts", "0"), ("max_failed_attempts", "101"), ("max_failed_attempts", "-1"),
    ("lockout_minutes", "0"), ("lockout_minutes", "1441"), ("lockout_minutes", "1.5"),
])
def test_bad_numbers_are_form_errors_that_keep_the_input(client, people, admin, field, value):
    policy = policy_of(people["tenant_a"])
    response = client.post(EDIT, data=form(policy, domains=["example.org"], **{field: value}))
    assert response.status_code == 422
    body = text(response)
    assert "Enter a whole number from" in body
    assert f'name="{field}"' in body and (f'value="{value}"' in body or value == "")
    assert values_of(body) == ["example.org"]
    before = policy_of(people["tenant_a"])
    assert (before.min_length, before.max_failed_attempts, before.lockout_minutes) == (10, 5, 15)
    assert not events("policy.updated")


def test_an_unknown_sso_mode_is_refused(client, people, admin):
    response = client.post(EDIT, data=form(policy_of(people["tenant_a"]), sso_mode="sometimes"))
    assert response.status_code == 422 and policy_of(people["tenant_a"]).sso_mode == "enabled"


# ---- Mandatory safeguards ---------------------------------------------------------------------------
def test_mandatory_is_refused_without_a_connection(client, people, admin):
    response = client.post(EDIT, data=form(policy_of(people["tenant_a"]), sso_mode="mandatory", min_length="12"))
    assert response.status_code == 422
    body = text(response)
    assert "this tenant has no connected Microsoft organization" in body and service.NEEDS_CONNECTION in body
    assert 'value="12"' in body and re.search(r'<input checked [^>]*value="mandatory"', body)
    assert policy_of(people["tenant_a"]).sso_mode == "enabled" and not events("policy.updated")


@pytest.mark.parametrize("kind", ["pending", "error", "integration_disabled"])
def test_mandatory_needs_a_connected_connection_of_an_enabled_integration(client, people, admin, kind):
    conn = connect(people["tenant_a"], status="connected" if kind == "integration_disabled" else kind,
                   enabled=kind != "integration_disabled")
    link(people["admin_a"], conn)
    response = client.post(EDIT, data=form(policy_of(people["tenant_a"]), sso_mode="mandatory"))
    assert service.NEEDS_CONNECTION in text(response)


def test_another_tenants_connection_does_not_count(client, people, admin):
    connect(people["tenant_b"], verified=["fabrikam.com"])
    response = client.post(EDIT, data=form(policy_of(people["tenant_a"]), sso_mode="mandatory"))
    assert service.NEEDS_CONNECTION in text(response)


def test_mandatory_is_refused_without_the_admins_own_link(client, people, admin):
    conn = connect(people["tenant_a"])
    link(people["user_a"], conn)  # someone else's link does not help
    response = client.post(EDIT, data=form(policy_of(people["tenant_a"]), sso_mode="mandatory"))
    assert response.status_code == 422
    assert "your own Microsoft account is not linked" in text(response)
    assert policy_of(people["tenant_a"]).sso_mode == "enabled"


def test_mandatory_is_refused_when_the_admin_would_block_themself(client, people, admin):
    conn = connect(people["tenant_a"])
    link(people["admin_a"], conn)
    response = client.post(EDIT, data=form(policy_of(people["tenant_a"]), sso_mode="mandatory",
                                           domains=["example.org"]))
    body = text(response)
    assert service.WOULD_BLOCK_YOU in body and "not one of the tenant&#39;s restricted domains" in body


def test_mandatory_with_connection_and_own_link_is_confirmed_and_saved(client, people, admin, factory):
    conn = connect(people["tenant_a"], auto=False)
    link(people["admin_a"], conn)
    data = form(policy_of(people["tenant_a"]), sso_mode="mandatory")
    preview = client.post(EDIT, data=data)
    body = text(preview)
    assert preview.status_code == 200 and "1 user would lose access" in body and "user-a" in body
    assert "No Microsoft account is linked to this user" in body
    assert client.post(EDIT, data={**data, "confirm": "1"}).status_code == 302
    assert policy_of(people["tenant_a"]).sso_mode == "mandatory"
    event = events("policy.updated")[-1]
    assert event.details["before"] == {"sso_mode": "enabled"} and event.details["after"] == {"sso_mode": "mandatory"}


def test_service_provider_is_exempt_from_the_own_link_but_not_the_connection(client, people, login):
    login("provider")
    client.post(f"/admin/tenants/{people['tenant_a'].id}/manage")
    data = form(policy_of(people["tenant_a"]), sso_mode="mandatory")
    assert service.NEEDS_CONNECTION in text(client.post(EDIT, data=data))
    connect(people["tenant_a"])
    assert "Confirm Password Policy changes" in text(client.post(EDIT, data=data))
    assert client.post(EDIT, data={**data, "confirm": "1"}).status_code == 302
    assert policy_of(people["tenant_a"]).sso_mode == "mandatory"
    assert events("policy.updated")[-1].actor_label == "provider"


def test_mandatory_ends_password_sessions_of_affected_users(app, client, people, admin):
    conn = connect(people["tenant_a"])
    link(people["admin_a"], conn)
    other = app.test_client()  # user-a, signed in with a password in another browser
    assert sign_in(other, "user-a").status_code == 302 and other.get("/").status_code == 200
    b_user = app.test_client()
    assert sign_in(b_user, "user-b").status_code == 302
    data = form(policy_of(people["tenant_a"]), sso_mode="mandatory")
    client.post(EDIT, data=data)
    assert client.post(EDIT, data={**data, "confirm": "1"}).status_code == 302
    assert other.get("/").status_code == 302  # the password session ended
    assert b_user.get("/").status_code == 200  # another tenant is untouched
    # The admin signed in with a password too: that session ends as well (they are linked, so
    # they come back with Microsoft), and the login page tells them why.
    response = client.get(VIEW)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "sign in with Microsoft" in text(client.get("/login"))


# ---- stale saves --------------------------------------------------------------------------------
def test_a_stale_save_is_refused_keeping_the_input(client, people, admin):
    policy = policy_of(people["tenant_a"])
    stale = form(policy, min_length="20", domains=["example.org"])
    policy.lockout_minutes = 45  # another admin saved meanwhile
    db.session.commit()
    response = client.post(EDIT, data=stale)
    assert response.status_code == 409
    body = text(response)
    assert "Someone else changed the password policy" in body
    assert 'value="20"' in body and values_of(body) == ["example.org"]
    assert f'name="version" type="hidden" value="{policy_of(people["tenant_a"]).version}"' in body
    after = policy_of(people["tenant_a"])
    assert (after.min_length, after.lockout_minutes) == (10, 45) and not events("policy.updated")


def test_a_stale_confirmation_is_refused(client, people, admin):
    data = form(policy_of(people["tenant_a"]), domains=["contoso.com"])
    assert "Confirm" in text(client.post(EDIT, data=data))
    policy_of(people["tenant_a"]).min_length = 16  # another admin saved meanwhile
    db.session.commit()
    response = client.post(EDIT, data={**data, "confirm": "1"})
    assert response.status_code == 409 and policy_of(people["tenant_a"]).restricted_domains == []


# ---- the lockout preview, without HTTP -----------------------------------------------------------
def test_lockout_preview_lists_the_right_users(app, people, factory):
    a = people["tenant_a"]
    conn = connect(a, auto=True, verified=["contoso.com"])
    link(people["admin_a"], conn)
    factory.user(a, "verified-email")  # no link, but a verified email: first Microsoft sign-in matches
    factory.user(a, "outsider", email="outsider@gmail.com")  # no link, unverified domain: locked out
    factory.user(a, "pw-admin", ROLE_TENANT_ADMIN, email="pw-admin@gmail.com")  # password-only admin
    factory.user(a, "already-off", email="off@gmail.com", web_access=False)  # cannot sign in today anyway
    sso_user = factory.user(a, "sso-linked", auth_type="sso", password=False)
    link(sso_user, conn)
    before = service.snapshot(policy_of(a))
    preview = lockout_preview(a.id, before, {**before, "sso_mode": "mandatory"}, clock.now())
    assert [u.login for u in preview.locked_out.users] == ["outsider", "pw-admin"]
    assert {u.reason for u in preview.locked_out.users} == {"email_domain_unverified"}
    assert preview.locked_out.count == 2 and preview.microsoft_only.count == 0

    # Restricting domains in Enabled mode: SSO-only users outside lose everything, others keep passwords.
    factory.user(a, "sso-fab", email="sso-fab@fabrikam.com", auth_type="sso", password=False)
    link(db.session.scalars(select(User).where(User.login_key == "sso-fab")).one(), conn)
    preview = lockout_preview(a.id, before, {**before, "restricted_domains": ["fabrikam.com"]}, clock.now())
    assert [u.login for u in preview.locked_out.users] == ["sso-linked"]
    assert preview.locked_out.users[0].reason == "domain_not_allowed"
    assert [u.login for u in preview.microsoft_only.users] == ["admin-a", "user-a", "verified-email"]


def test_lockout_preview_counts_all_and_lists_the_first(app, people, factory):
    a = people["tenant_a"]
    for i in range(5):
        factory.user(a, f"bulk-{i}")
    before = service.snapshot(policy_of(a))
    preview = lockout_preview(a.id, before, {**before, "sso_mode": "disabled"}, clock.now(), limit=3)
    assert preview.locked_out.count == 0  # Disabled keeps passwords
    connect(a, auto=False)
    preview = lockout_preview(a.id, {**before, "sso_mode": "enabled"}, {**before, "sso_mode": "mandatory"},
                              clock.now(), limit=3)
    assert preview.locked_out.count == 7 and len(preview.locked_out.users) == 3 and preview.locked_out.more == 4


def test_submit_decides_without_http(app, people):
    a, admin = people["tenant_a"], people["admin_a"]
    policy = policy_of(a)
    values = {**service.snapshot(policy), "sso_mode": "mandatory"}
    kwargs = dict(tenant_id=a.id, actor=admin, version=str(policy.version), now=clock.now())
    outcome = service.submit(policy, values, confirmed=True, **kwargs)
    assert outcome.status == service.REFUSED and outcome.decision.reason == service.NEEDS_CONNECTION
    assert service.submit(policy, values, confirmed=True, **{**kwargs, "version": "999"}).status == service.STALE
    assert service.submit(policy, service.snapshot(policy), confirmed=False, **kwargs).status == service.UNCHANGED


# ---- break glass ---------------------------------------------------------------------------------
def lock_out(tenant, admin):
    policy = policy_of(tenant)
    policy.sso_mode, policy.restricted_domains = "mandatory", ["contoso.com"]
    db.session.commit()


def test_flask_sso_reset_restores_password_sign_in(client, runner, people):
    lock_out(people["tenant_a"], people["admin_a"])
    assert sign_in(client, "admin-a").status_code == 200  # refused: Mandatory
    result = runner.invoke(args=["sso", "reset", "contoso"])
    assert result.exit_code == 0, result.output
    assert "Single Sign-On is now Enabled" in result.output and "Before: Single Sign-On Mandatory" in result.output
    policy = policy_of(people["tenant_a"])
    assert (policy.sso_mode, policy.restricted_domains) == ("enabled", [])
    event = events("sso.reset")[-1]
    assert event.tenant_id == people["tenant_a"].id and event.actor_label == "server console"
    assert event.details == {"before": {"sso_mode": "mandatory", "restricted_domains": ["contoso.com"]},
                             "after": {"sso_mode": "enabled", "restricted_domains": []}}
    assert sign_in(client, "admin-a").status_code == 302


def test_flask_sso_reset_unknown_tenant(runner, people):
    result = runner.invoke(args=["sso", "reset", "no-such-tenant"])
    assert result.exit_code == 1
    assert "No tenant has the slug 'no-such-tenant'" in result.output
    assert not events("sso.reset")


def test_tenants_page_resets_sso_after_confirmation(client, people, login):
    lock_out(people["tenant_a"], people["admin_a"])
    login("provider")
    index = text(client.get("/admin/tenants/"))
    url = f"/admin/tenants/{people['tenant_a'].id}/reset-sso"
    assert "Reset SSO settings" in index and url in index
    confirm = text(client.get(url))
    assert "Reset SSO settings of Contoso Call Center" in confirm and "Mandatory" in confirm
    assert policy_of(people["tenant_a"]).sso_mode == "mandatory"  # GET changes nothing
    response = client.post(url)
    assert response.status_code == 302
    assert policy_of(people["tenant_a"]).sso_mode == "enabled"
    assert events("sso.reset")[-1].actor_label == "provider"
    assert "SSO settings of “Contoso Call Center” reset" in text(client.get("/admin/tenants/"))


def test_tenant_admin_cannot_reset(client, people, login):
    login("admin-a")
    assert client.post(f"/admin/tenants/{people['tenant_a'].id}/reset-sso").status_code == 403


# ---- Check access -------------------------------------------------------------------------------------
def test_check_access_searches_the_tenant_only(client, people, admin):
    body = text(client.get(CHECK, query_string={"q": "user"}))
    assert "user-a" in body and "user-b" not in body
    body = text(client.get(CHECK, query_string={"q": "ADMIN-A@CONTOSO"}))
    assert "admin-a" in body
    assert "No user" in text(client.get(CHECK, query_string={"q": "%"}))
    assert client.get(CHECK, query_string={"user": people["user_b"].id}).status_code == 404


def test_check_access_explains_both_methods(client, people, login):
    login("provider")  # under Mandatory a tenant admin's own password session would end
    client.post(f"/admin/tenants/{people['tenant_a'].id}/manage")
    a = people["tenant_a"]
    policy = policy_of(a)
    policy.sso_mode = "mandatory"
    db.session.commit()
    body = text(client.get(CHECK, query_string={"q": "user-a", "user": people["user_a"].id}))
    assert "Password sign-in" in body and "Sign in with Microsoft" in body
    assert "Single Sign-On is Mandatory for this tenant: passwords are not accepted." in body
    assert "sso_mandatory" in body and "org_not_connected" in body
    conn = connect(a, auto=False)
    link(people["user_a"], conn)
    body = text(client.get(CHECK, query_string={"user": people["user_a"].id}))
    assert re.search(r'data-testid="microsoft-verdict">\s*Allowed', body)
    assert re.search(r'data-testid="password-verdict">\s*Refused', body)
