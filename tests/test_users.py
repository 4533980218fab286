"""User Management > Users over HTTP: access, isolation, the list, create/edit/delete, warnings."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from app.auth import rules
from app.extensions import db
from app.models import AuditEvent, Connection, Integration, LinkedAccount, User
from app.passwords import verify_password
from app.users.service import CONFLICT, SSO_EMAIL, SSO_IMPLICIT, TWO_STEP_OFF

from .conftest import PASSWORD, sign_in

NEW_PASSWORD = "Brand-New-Pass-7"


# --- helpers -------------------------------------------------------------------------------

def count(model) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


def events(action: str) -> list[AuditEvent]:
    """Audit events of an action, oldest first."""
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def fresh(user: User) -> User:
    """The user as the database has it now."""
    db.session.expire_all()
    return db.session.get(User, user.id)


def new_user_form(**changes) -> dict:
    """A valid create form; a value of None leaves the field out (an unticked checkbox)."""
    data = {"display_name": "Nina Park", "role": "user", "login": "nina", "email": "nina@contoso.com",
            "web_access": "y", "auth_type": "password", "valid_till": "", "password": "",
            "password_confirm": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def edit_form(user: User, **changes) -> dict:
    """The edit form as loaded for this user, with changes."""
    data = {"display_name": user.display_name, "role": user.role, "login": user.login, "email": user.email,
            "web_access": "y" if user.web_access else None, "auth_type": user.auth_type,
            "require_2fa": "y" if user.require_2fa else None,
            "valid_till": user.valid_till.isoformat() if user.valid_till else "",
            "password": "", "password_confirm": "", "version": str(user.version)}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def connect(tenant, *, status="connected", auto=True, domains=("contoso.com",), enabled=True) -> Connection:
    """A Microsoft organization connected to the tenant."""
    integration = Integration(name="Microsoft", client_id="client-id", enabled=enabled)
    connection = Connection(integration=integration, tenant_id=tenant.id, org_tid="org-tid",
                            org_name="Contoso Ltd", verified_domains=list(domains), auto_activation=auto,
                            status=status)
    db.session.add(connection)
    db.session.commit()
    return connection


def link(user: User, connection: Connection, oid: str = "oid-1") -> LinkedAccount:
    """A Microsoft account linked to the user."""
    row = LinkedAccount(connection_id=connection.id, user_id=user.id, oid=oid, email_at_link=user.email)
    db.session.add(row)
    db.session.commit()
    return row


def body(response) -> str:
    """The page as text."""
    return response.get_data(as_text=True)


def follow(client, response):
    """Follow one redirect (the isolated test client cannot follow them itself)."""
    assert response.status_code == 302, body(response)[:500]
    return client.get(response.headers["Location"])


def esc(text: str) -> str:
    """Text as the templates render it (escaped)."""
    return str(escape(text))


def field_value(html: str, name: str) -> str:
    """The value attribute of an input in a rendered form."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html) or \
        re.search(rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', html)
    return match.group(1) if match else ""


# --- access and tenant isolation --------------------------------------------------------------

USER_PAGES = ["/admin/users/", "/admin/users/new", "/admin/user-authentication/2-step-verification/"]


@pytest.mark.parametrize("url", USER_PAGES)
def test_a_user_cannot_reach_the_admin_pages(client, people, login, url):
    login("user-a")
    assert client.get(url).status_code == 403
    assert client.get(f"/admin/users/{people['user_a'].id}").status_code == 403
    assert client.post(f"/admin/users/{people['user_a'].id}/delete").status_code == 403


@pytest.mark.parametrize("url", USER_PAGES)
def test_anonymous_is_sent_to_sign_in(client, people, url):
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("suffix,method", [("", "get"), ("/edit", "get"), ("/edit", "post"),
                                           ("/delete", "get"), ("/delete", "post"),
                                           ("/reset-two-step", "post")])
def test_another_tenants_user_answers_404(client, people, login, suffix, method):
    login("admin-a")
    other = people["user_b"]
    before = fresh(other).version
    response = getattr(client, method)(f"/admin/users/{other.id}{suffix}",
                                       data=edit_form(other, display_name="Hijacked"))
    assert response.status_code == 404
    assert fresh(other).display_name == "User-B" and fresh(other).version == before


def test_the_list_shows_only_the_own_tenant(client, people, login):
    login("admin-a")
    html = body(client.get("/admin/users/"))
    assert "user-a@contoso.com" in html and "admin-a" in html
    assert ">user-b<" not in html and ">admin-b<" not in html and ">provider<" not in html
    assert "Administration" in html and "User Management" in html  # breadcrumb


def test_service_provider_must_choose_a_tenant_then_sees_only_it(client, people, login):
    login("provider")
    assert client.get("/admin/users/").status_code == 302
    client.post(f"/admin/tenants/{people['tenant_b'].id}/manage")
    html = body(client.get("/admin/users/"))
    assert ">user-b<" in html and ">user-a<" not in html
    assert client.get(f"/admin/users/{people['user_a'].id}").status_code == 404
    assert client.get(f"/admin/users/{people['user_b'].id}").status_code == 200


# --- the list ---------------------------------------------------------------------------------

def test_list_columns_and_linked_account(client, people, login):
    user = people["user_a"]
    user.require_2fa = True
    user.valid_till = dt.date(2030, 1, 31)
    db.session.commit()
    link(user, connect(people["tenant_a"]))
    login("admin-a")
    html = body(client.get("/admin/users/"))
    for header in ("Login", "Name", "Email", "Role", "Authentication type", "Web portal access",
                   "2-step verification", "Valid till", "Last sign-in", "Microsoft account"):
        assert f">{header}" in html
    row = html[html.index(">user-a<"):].split("</tr>")[0]
    assert "Required" in row and "2030-01-31" in row and "Linked" in row and "User" in row


@pytest.mark.parametrize("q", ["USER-A", "user-a@CONTOSO", "ser-", "User-A", "us"])
def test_search_by_login_name_or_email_ignores_case(client, people, login, q):
    login("admin-a")
    html = body(client.get("/admin/users/", query_string={"q": q}))
    assert ">user-a<" in html
    assert ">admin-a<" not in html


def test_search_by_name_finds_substring(client, people, factory, login):
    factory.user(people["tenant_a"], "mb", display_name="Megan Bowen")
    login("admin-a")
    html = body(client.get("/admin/users/", query_string={"q": "gan bow"}))
    assert ">mb<" in html and ">user-a<" not in html
    assert "1 user matches" in html


def test_search_without_match_says_so(client, people, login):
    login("admin-a")
    html = body(client.get("/admin/users/", query_string={"q": "zzzz"}))
    assert "No user matches “zzzz”" in html


def test_empty_tenant_shows_the_empty_state(client, factory, login):
    tenant = factory.tenant("Empty Co", "empty")
    factory.user(None, "sp", "system_admin", email="sp@example.net")
    login("sp")
    client.post(f"/admin/tenants/{tenant.id}/manage")
    assert "No users in this tenant yet" in body(client.get("/admin/users/"))


def test_keyset_pages_walk_forward_and_back(app, client, people, factory, login):
    for i in range(5):
        factory.user(people["tenant_a"], f"zed{i}")
    app.config["PAGE_SIZE"] = 3
    login("admin-a")
    html = body(client.get("/admin/users/"))
    logins = re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a>', html)
    assert logins == ["admin-a", "user-a", "zed0"] and "Page 1" in html
    next_url = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    html2 = body(client.get(next_url))
    assert re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a>', html2) == ["zed1", "zed2", "zed3"]
    assert "Page 2" in html2
    prev_url = re.search(r'rel="prev" href="([^"]+)"', html2).group(1).replace("&amp;", "&")
    assert re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a>', body(client.get(prev_url))) == logins
    last = body(client.get("/admin/users/", query_string={"last": "1"}))
    assert re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a>', last) == ["zed2", "zed3", "zed4"]


def test_sort_by_name_descending(client, people, factory, login):
    factory.user(people["tenant_a"], "x1", display_name="aaron")
    factory.user(people["tenant_a"], "x2", display_name="Zoe")
    login("admin-a")
    html = body(client.get("/admin/users/", query_string={"sort": "name", "dir": "desc"}))
    logins = re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a>', html)
    assert logins[0] == "x2" and logins[-1] == "x1"  # case-insensitive: Zoe first, aaron last


def test_junk_paging_parameters_fall_back_to_the_first_page(client, people, login):
    login("admin-a")
    response = client.get("/admin/users/", query_string={"after": "%%%", "sort": "bogus", "page": "x"})
    assert response.status_code == 200 and ">user-a<" in body(response)


# --- create -----------------------------------------------------------------------------------

def test_create_user_with_all_settings(client, people, login):
    login("admin-a")
    response = client.post("/admin/users/new", data=new_user_form(
        require_2fa="y", valid_till="2031-05-01", password=NEW_PASSWORD, password_confirm=NEW_PASSWORD))
    assert response.status_code == 302
    user = db.session.scalars(select(User).where(User.login_key == "nina")).one()
    assert user.tenant_id == people["tenant_a"].id and user.require_2fa and user.web_access
    assert user.valid_till == dt.date(2031, 5, 1) and verify_password(user.password_hash, NEW_PASSWORD)
    event = events("user.created")[-1]
    assert event.details["after"]["valid_till"] == "2031-05-01"
    assert event.actor_label == "admin-a" and NEW_PASSWORD not in str(event.details)
    assert "password_hash" not in str(event.details)


INVALID_CREATE = [
    ("duplicate login, other case", {"login": "USER-A"}, "This login is already taken."),
    ("duplicate login of another tenant", {"login": "User-B"}, "This login is already taken."),
    ("duplicate email, other case", {"email": "User-A@Contoso.COM"}, "Another user of this tenant already has this email."),
    ("malformed email", {"email": "nina@@contoso"}, "Enter a valid email address"),
    ("invalid date", {"valid_till": "31/12/2030"}, "Enter the date as yyyy-mm-dd"),
    ("impossible date", {"valid_till": "2030-02-30"}, "This date does not exist."),
    ("past date", {"valid_till": "2000-01-01"}, "Valid till cannot be in the past."),
    ("empty login", {"login": ""}, "Enter a login."),
    ("empty email", {"email": ""}, "Enter an email address."),
    ("empty name", {"display_name": "   "}, "Enter a name."),
    ("login with spaces", {"login": "nina park"}, "A login cannot contain spaces or control characters."),
    ("login with a control character", {"login": "nina\x07park"}, "A login cannot contain spaces or control characters."),
    ("weak password", {"password": "short", "password_confirm": "short"}, "The password needs at least 10 characters"),
    ("passwords differ", {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"}, "The two passwords are not the same."),
    ("bad role", {"role": "system_admin"}, "Not a valid choice"),
]


@pytest.mark.parametrize("case,changes,message", INVALID_CREATE, ids=[c[0] for c in INVALID_CREATE])
def test_create_refuses_bad_input_keeping_what_was_typed(client, people, login, case, changes, message):
    login("admin-a")
    users, audit_events = count(User), count(AuditEvent)
    data = new_user_form(**{"display_name": "Typed Name", **changes})
    response = client.post("/admin/users/new", data=data)
    html = body(response)
    assert response.status_code == 200 and message in html
    assert "is-invalid" in html
    for name in ("login", "email", "valid_till"):
        typed = data[name].replace("&", "&amp;")
        assert field_value(html, name) == typed, name
    if data["display_name"].strip():
        assert field_value(html, "display_name") == data["display_name"]
    assert count(User) == users and count(AuditEvent) == audit_events


# --- view and edit ----------------------------------------------------------------------------

def test_view_shows_the_web_portal_access_settings(client, people, login):
    login("admin-a")
    html = body(client.get(f"/admin/users/{people['user_a'].id}"))
    for label in ("Login", "Email", "Web portal access", "Authentication type", "2-step verification",
                  "Valid till"):
        assert f">{label}<" in html
    assert SSO_IMPLICIT in html


def test_edit_form_has_the_guide_labels(client, people, login):
    login("admin-a")
    html = body(client.get(f"/admin/users/{people['user_a'].id}/edit"))
    for text in ("Web portal access settings", ">Login<", ">Email<", ">Web portal access<", ">Enable<",
                 "Authentication type", ">Password<", ">Single Sign-On<", ">2-step verification<",
                 "Require 2-step verification for user login", ">Valid till<", 'placeholder="yyyy-mm-dd"',
                 SSO_IMPLICIT):
        assert text in html, text


def test_edit_changes_fields_and_audits_before_and_after(client, people, login):
    user = people["user_a"]
    login("admin-a")
    response = client.post(f"/admin/users/{user.id}/edit", data=edit_form(
        user, display_name="Renamed", email="renamed@contoso.com", role="tenant_admin", valid_till="2032-01-01"))
    assert response.status_code == 302
    user = fresh(user)
    assert (user.display_name, user.email, user.email_key, user.role) == (
        "Renamed", "renamed@contoso.com", "renamed@contoso.com", "tenant_admin")
    details = events("user.updated")[-1].details
    assert details["before"]["display_name"] == "User-A" and details["after"]["display_name"] == "Renamed"
    assert details["before"]["valid_till"] is None and details["after"]["valid_till"] == "2032-01-01"
    assert "login" not in details["after"]  # only what changed


INVALID_EDIT = [
    ("duplicate login, other case", {"login": "ADMIN-A"}, "This login is already taken."),
    ("duplicate email, other case", {"email": "ADMIN-A@contoso.com"}, "Another user of this tenant already has this email."),
    ("malformed email", {"email": "no-at-sign"}, "Enter a valid email address"),
    ("invalid date", {"valid_till": "2030-13-01"}, "This date does not exist."),
    ("past date", {"valid_till": "2001-01-01"}, "Valid till cannot be in the past."),
    ("empty login", {"login": ""}, "Enter a login."),
    ("login with spaces", {"login": " a b "}, "A login cannot contain spaces or control characters."),
    ("login with a tab", {"login": "a\tb"}, "A login cannot contain spaces or control characters."),
    ("weak password", {"password": "alllowercase", "password_confirm": "alllowercase"}, "an upper-case letter"),
]


@pytest.mark.parametrize("case,changes,message", INVALID_EDIT, ids=[c[0] for c in INVALID_EDIT])
def test_edit_refuses_bad_input_keeping_what_was_typed(client, people, login, case, changes, message):
    user = people["user_a"]
    login("admin-a")
    version, audit_events = fresh(user).version, count(AuditEvent)
    data = edit_form(user, display_name="Typed Name", **changes)
    html = body(client.post(f"/admin/users/{user.id}/edit", data=data))
    assert message in html
    assert field_value(html, "display_name") == "Typed Name"
    assert field_value(html, "valid_till") == data["valid_till"]
    user = fresh(user)
    assert user.version == version and user.display_name == "User-A" and count(AuditEvent) == audit_events


def test_optimistic_locking_refuses_the_second_save_and_keeps_its_input(app, client, people, login):
    user = people["user_a"]
    login("admin-a")
    other_admin = app.test_client()
    sign_in(other_admin, "admin-a")
    first_form = field_value(body(client.get(f"/admin/users/{user.id}/edit")), "version")
    second_form = field_value(body(other_admin.get(f"/admin/users/{user.id}/edit")), "version")
    assert first_form == second_form == "1"
    assert client.post(f"/admin/users/{user.id}/edit",
                       data=edit_form(user, display_name="First Admin", version=first_form)).status_code == 302
    response = other_admin.post(f"/admin/users/{user.id}/edit",
                                data=edit_form(user, display_name="Second Admin", email="second@contoso.com",
                                               version=second_form))
    html = body(response)
    assert response.status_code == 200 and CONFLICT.split(".")[0] in html
    assert field_value(html, "display_name") == "Second Admin"
    assert field_value(html, "email") == "second@contoso.com"
    assert "First Admin" in html  # the current values are shown for review
    assert fresh(user).display_name == "First Admin" and fresh(user).email == "user-a@contoso.com"
    # After reviewing, saving again (with the new version the page now carries) applies it.
    again = edit_form(fresh(user), display_name="Second Admin", version=field_value(html, "version"))
    assert other_admin.post(f"/admin/users/{user.id}/edit", data=again).status_code == 302
    assert fresh(user).display_name == "Second Admin"


def test_switching_to_sso_clears_the_password_and_ends_sessions(app, client, people, login):
    user = people["user_a"]
    session_of_user = app.test_client()
    sign_in(session_of_user, "user-a")
    assert session_of_user.get("/").status_code == 200
    login("admin-a")
    client.post(f"/admin/users/{user.id}/edit", data=edit_form(user, auth_type="sso"))
    user = fresh(user)
    assert user.auth_type == "sso" and user.password_hash is None and user.session_version == 2
    assert session_of_user.get("/").status_code == 302
    assert events("user.updated")[-1].details["sessions_ended"] == ["switched_to_sso"]
    html = body(client.get(f"/admin/users/{user.id}/edit"))
    assert 'name="password"' in html and 'data-show-for="password"' in html  # hidden for SSO users
    assert re.search(r'<fieldset class="mb-4 d-none" data-show-for="password"', html)


@pytest.mark.parametrize("changes,reason", [
    ({"web_access": None}, "web_access_disabled"),
    ({"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}, "password_changed"),
    ({"valid_till": "2030-01-01"}, "valid_till_shortened"),
])
def test_changes_that_end_the_users_sessions(app, client, people, login, changes, reason):
    user = people["user_a"]
    session_of_user = app.test_client()
    sign_in(session_of_user, "user-a")
    login("admin-a")
    assert client.post(f"/admin/users/{user.id}/edit", data=edit_form(user, **changes)).status_code == 302
    assert fresh(user).session_version == 2
    assert session_of_user.get("/").status_code == 302
    assert reason in events("user.updated")[-1].details["sessions_ended"]


def test_admin_sets_a_password_with_the_tenant_rules(client, people, login):
    user = people["user_a"]
    login("admin-a")
    client.post(f"/admin/users/{user.id}/edit",
                data=edit_form(user, password=NEW_PASSWORD, password_confirm=NEW_PASSWORD))
    assert verify_password(fresh(user).password_hash, NEW_PASSWORD)
    assert NEW_PASSWORD not in str(events("user.updated")[-1].details)
    client.post("/logout")
    assert sign_in(client, "user-a", NEW_PASSWORD).status_code == 302


def test_valid_till_set_by_the_admin_is_inclusive(client, people, login, frozen_clock):
    frozen_clock(dt.datetime(2026, 12, 1, 9, 0))
    user = people["user_a"]
    login("admin-a")
    assert client.post(f"/admin/users/{user.id}/edit", data=edit_form(user, valid_till="2026-12-01")).status_code == 302
    client.post("/logout")
    frozen_clock(dt.datetime(2026, 12, 1, 23, 59, 59))
    assert sign_in(client, "user-a").status_code == 302
    assert client.get("/").status_code == 200
    frozen_clock(dt.datetime(2026, 12, 2, 0, 0))
    assert client.get("/").status_code == 302  # the session ends with the day
    assert sign_in(client, "user-a").status_code == 200  # and sign-in is refused from the next day
    assert events("sign_in.refused")[-1].details["reason"] == "expired"


def test_a_past_valid_till_that_is_not_changed_can_stay(client, people, login, frozen_clock):
    user = people["user_a"]
    user.valid_till = dt.date(2020, 1, 1)
    db.session.commit()
    login("admin-a")
    response = client.post(f"/admin/users/{user.id}/edit", data=edit_form(user, display_name="Still Expired"))
    assert response.status_code == 302 and fresh(user).display_name == "Still Expired"


# --- self-protection and the last administrator -----------------------------------------------

@pytest.mark.parametrize("changes,message", [
    ({"web_access": None}, "You cannot disable your own web portal access."),
    ({"role": "user"}, "You cannot change your own role."),
    ({"auth_type": "sso"}, "You cannot switch yourself to Single Sign-On before a Microsoft account is linked"),
])
def test_an_admin_cannot_remove_their_own_access(client, people, login, changes, message):
    admin = people["admin_a"]
    login("admin-a")
    html = body(client.post(f"/admin/users/{admin.id}/edit", data=edit_form(admin, **changes)))
    assert message in html
    assert fresh(admin).version == 1


def test_an_admin_may_switch_to_sso_once_linked(client, people, login):
    admin = people["admin_a"]
    link(admin, connect(people["tenant_a"]))
    login("admin-a")
    assert client.post(f"/admin/users/{admin.id}/edit", data=edit_form(admin, auth_type="sso")).status_code == 302


def test_an_admin_cannot_delete_themselves(client, people, login):
    admin = people["admin_a"]
    login("admin-a")
    response = follow(client, client.post(f"/admin/users/{admin.id}/delete", data={"version": "1"}))
    assert "You cannot delete your own account." in body(response)
    assert fresh(admin) is not None


def test_the_last_tenant_admin_cannot_be_demoted_disabled_or_deleted(client, people, login):
    admin = people["admin_a"]
    login("provider")
    client.post(f"/admin/tenants/{people['tenant_a'].id}/manage")
    for changes, field_message in (({"role": "user"}, "last administrator"),
                                   ({"web_access": None}, "last administrator")):
        html = body(client.post(f"/admin/users/{admin.id}/edit", data=edit_form(admin, **changes)))
        assert field_message in html
    response = follow(client, client.post(f"/admin/users/{admin.id}/delete", data={"version": "1"}))
    assert "last administrator" in body(response)
    admin = fresh(admin)
    assert admin.role == "tenant_admin" and admin.web_access and admin.version == 1


def test_another_admin_can_be_demoted(client, people, factory, login):
    second = factory.user(people["tenant_a"], "second-admin", "tenant_admin")
    login("admin-a")
    assert client.post(f"/admin/users/{second.id}/edit", data=edit_form(second, role="user")).status_code == 302
    assert fresh(second).role == "user"


# --- delete and reset -------------------------------------------------------------------------

def test_delete_asks_first_then_deletes_with_links(client, people, login):
    user_id = people["user_a"].id
    link(people["user_a"], connect(people["tenant_a"]))
    login("admin-a")
    page = body(client.get(f"/admin/users/{user_id}/delete"))
    assert "Delete user user-a?" in page and 'name="version"' in page
    assert client.post(f"/admin/users/{user_id}/delete", data={"version": "1"}).status_code == 302
    assert db.session.scalar(select(User.id).where(User.id == user_id)) is None
    assert count(LinkedAccount) == 0
    assert events("user.deleted")[-1].details["before"]["login"] == "user-a"


def test_delete_of_a_changed_user_is_refused(client, people, login):
    user = people["user_a"]
    login("admin-a")
    response = follow(client, client.post(f"/admin/users/{user.id}/delete", data={"version": "0"}))
    assert "changed by someone else" in body(response) and fresh(user) is not None


def test_reset_two_step_enrolment(client, people, login):
    user = people["user_a"]
    user.totp_secret_enc, user.totp_confirmed, user.totp_last_step = "enc", True, 5
    db.session.commit()
    login("admin-a")
    page = body(client.get(f"/admin/users/{user.id}"))
    assert "Reset 2-step verification" in page and "data-confirm=" in page
    client.post(f"/admin/users/{user.id}/reset-two-step")
    user = fresh(user)
    assert (user.totp_secret_enc, user.totp_confirmed, user.totp_last_step) == (None, False, None)
    assert events("user.two_step_reset")[-1].details == {"before": {"two_step_enrolled": True},
                                                         "after": {"two_step_enrolled": False}}


# --- the guide's warnings ---------------------------------------------------------------------

def test_two_step_warning_when_the_tenant_has_it_off(client, people, login):
    user = people["user_a"]
    user.require_2fa = True
    db.session.commit()
    login("admin-a")
    for url in (f"/admin/users/{user.id}", f"/admin/users/{user.id}/edit"):
        html = body(client.get(url))
        assert esc(TWO_STEP_OFF) in html
        assert re.search(r'class="alert alert-warning py-2" role="alert" data-show-if-checked="require_2fa"', html)
    people["tenant_a"].policy.totp_enabled = True
    db.session.commit()
    assert esc(TWO_STEP_OFF) not in body(client.get(f"/admin/users/{user.id}"))


def test_sso_user_without_a_connection_shows_why_microsoft_sign_in_fails(client, people, login):
    user = people["user_a"]
    login("admin-a")
    html = body(client.post(f"/admin/users/{user.id}/edit", data=edit_form(user, auth_type="sso")))
    html = body(client.get(f"/admin/users/{user.id}"))
    assert SSO_EMAIL in html
    assert esc("Warning! This user could not sign in with Microsoft today: "
               + rules.EXPLANATIONS[rules.ORG_NOT_CONNECTED]) in html


@pytest.mark.parametrize("setup,reason", [
    ("ok", None),
    ("sso_disabled", rules.SSO_DISABLED),
    ("restricted", rules.DOMAIN_NOT_ALLOWED),
    ("integration_off", rules.ORG_NOT_CONNECTED),
    ("unverified_domain", rules.EMAIL_UNVERIFIED),
])
def test_sso_warning_follows_the_rules(client, people, login, setup, reason):
    user = people["user_a"]
    user.auth_type, user.password_hash = "sso", None
    policy = people["tenant_a"].policy
    if setup == "sso_disabled":
        policy.sso_mode = "disabled"
    if setup == "restricted":
        policy.restricted_domains = ["example.org"]
    db.session.commit()
    connect(people["tenant_a"], enabled=setup != "integration_off",
            domains=("fabrikam.com",) if setup == "unverified_domain" else ("contoso.com",))
    login("admin-a")
    html = body(client.get(f"/admin/users/{user.id}/edit"))
    if reason is None:
        assert 'data-testid="sso-warning"' not in html
    else:
        assert esc("Warning! This user could not sign in with Microsoft today: "
                   + rules.EXPLANATIONS[reason]) in html


def test_typed_values_drive_the_warnings_on_a_refused_form(client, people, login):
    user = people["user_a"]
    login("admin-a")
    html = body(client.post(f"/admin/users/{user.id}/edit",
                            data=edit_form(user, auth_type="sso", require_2fa="y", login="")))
    assert "Enter a login." in html and esc(TWO_STEP_OFF) in html and 'data-testid="sso-warning"' in html


# --- email change removes Microsoft links -----------------------------------------------------

def test_email_change_with_links_needs_confirmation_then_removes_them(client, people, login):
    user = people["user_a"]
    link(user, connect(people["tenant_a"]))
    login("admin-a")
    form_html = body(client.get(f"/admin/users/{user.id}/edit"))
    assert 'data-testid="links-warning"' in form_html and "Remove the linked Microsoft account" in form_html
    html = body(client.post(f"/admin/users/{user.id}/edit", data=edit_form(user, email="new@contoso.com")))
    assert "to confirm" in html and count(LinkedAccount) == 1 and fresh(user).email == "user-a@contoso.com"
    assert field_value(html, "email") == "new@contoso.com"
    response = client.post(f"/admin/users/{user.id}/edit",
                           data=edit_form(user, email="new@contoso.com", confirm_unlink="y"))
    assert response.status_code == 302 and count(LinkedAccount) == 0
    event = events("user.links_removed")[-1]
    assert event.details["before"]["email"] == "user-a@contoso.com" and event.details["after"]["email"] == "new@contoso.com"
    assert event.details["links"][0]["oid"] == "oid-1"


def test_changing_only_the_case_of_the_email_keeps_links(client, people, login):
    user = people["user_a"]
    link(user, connect(people["tenant_a"]))
    login("admin-a")
    assert client.post(f"/admin/users/{user.id}/edit",
                       data=edit_form(user, email="User-A@Contoso.com")).status_code == 302
    assert count(LinkedAccount) == 1 and fresh(user).email == "User-A@Contoso.com"


# --- 2-Step Verification settings --------------------------------------------------------------

def test_two_step_settings_switch_is_audited(client, people, login):
    login("admin-a")
    url = "/admin/user-authentication/2-step-verification/"
    html = body(client.get(url))
    assert "2-Step Verification" in html and "User Authentication" in html
    client.post(url, data={"totp": "enabled", "version": field_value(html, "version")})
    assert people["tenant_a"].policy.totp_enabled is True
    event = events("policy.two_step_updated")[-1]
    assert event.details == {"before": {"totp_enabled": False}, "after": {"totp_enabled": True}}
    assert event.tenant_id == people["tenant_a"].id
    assert people["tenant_b"].policy.totp_enabled is False


def test_two_step_settings_refuse_a_stale_form(client, people, login):
    login("admin-a")
    url = "/admin/user-authentication/2-step-verification/"
    response = follow(client, client.post(url, data={"totp": "enabled", "version": "99"}))
    assert "Someone else changed these settings" in body(response)
    db.session.expire_all()
    assert people["tenant_a"].policy.totp_enabled is False


def test_the_menu_links_to_users_and_two_step(client, people, login):
    login("admin-a")
    html = body(client.get("/"))
    assert 'href="/admin/users/"' in html and 'href="/admin/user-authentication/2-step-verification/"' in html


# --- profile ----------------------------------------------------------------------------------

def test_profile_shows_details_and_linked_accounts(client, people, login):
    link(people["user_a"], connect(people["tenant_a"]))
    login("user-a")
    home = body(client.get("/"))
    assert 'href="/profile/"' in home
    html = body(client.get("/profile/"))
    assert "user-a@contoso.com" in html and "Linked Microsoft account" in html and "Contoso Ltd" in html
    assert "Change password" in html


def test_profile_password_change_keeps_this_session_and_ends_others(app, client, people, login):
    login("user-a")
    other = app.test_client()
    sign_in(other, "user-a")
    html = body(client.post("/profile/password", data={"current_password": "wrong", "new_password": NEW_PASSWORD,
                                                       "new_password_repeat": NEW_PASSWORD}))
    assert "The current password is not right." in html
    html = body(client.post("/profile/password", data={"current_password": PASSWORD, "new_password": "weak",
                                                       "new_password_repeat": "weak"}))
    assert "The password needs at least 10 characters" in html
    response = client.post("/profile/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                      "new_password_repeat": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.get("/profile/").status_code == 200
    assert other.get("/").status_code == 302
    assert verify_password(fresh(people["user_a"]).password_hash, NEW_PASSWORD)
    event = events("user.password_changed")[-1]
    assert NEW_PASSWORD not in str(event.details) and PASSWORD not in str(event.details)


def test_profile_password_attempts_are_limited(app, client, people, login):
    login("user-a")
    for _ in range(5):
        client.post("/profile/password", data={"current_password": "wrong", "new_password": NEW_PASSWORD,
                                               "new_password_repeat": NEW_PASSWORD})
    html = body(client.post("/profile/password", data={"current_password": PASSWORD, "new_password": NEW_PASSWORD,
                                                       "new_password_repeat": NEW_PASSWORD}))
    assert "Too many attempts" in html
    assert verify_password(fresh(people["user_a"]).password_hash, PASSWORD)


def test_sso_users_have_no_password_to_change(client, people, factory, login):
    user = people["user_a"]
    login("user-a")
    user.auth_type = "sso"
    db.session.commit()
    # The switch ended the password session; a Microsoft session is simulated for the page.
    with client.session_transaction() as sess:
        sess["auth_method"] = "microsoft"
    assert client.get("/profile/password").status_code == 404
    assert "has no password here" in body(client.get("/profile/"))


def test_a_password_user_without_a_password_gets_a_note(client, people, login):
    user = people["user_a"]
    user.password_hash = None
    db.session.commit()
    login("admin-a")
    assert 'data-testid="no-password-note"' in body(client.get(f"/admin/users/{user.id}/edit"))
    assert 'data-testid="no-password-note"' not in body(client.get("/admin/users/new"))


def test_service_provider_creates_a_user_in_the_chosen_tenant(client, people, login):
    login("provider")
    client.post(f"/admin/tenants/{people['tenant_b'].id}/manage")
    assert client.post("/admin/users/new", data=new_user_form(email="nina@fabrikam.com")).status_code == 302
    user = db.session.scalars(select(User).where(User.login_key == "nina")).one()
    assert user.tenant_id == people["tenant_b"].id
    assert events("user.created")[-1].actor_label == "provider"
