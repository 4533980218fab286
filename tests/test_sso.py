"""Sign in with Microsoft end to end: MSAL against the emulator over HTTPS, the portal's rules."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, LinkedAccount, User

from .emulator_fixtures import ATTACKER_TID, CLIENT_ID, CONTOSO_TID
from .sso_helpers import authorize, callback, connect, drive, microsoft_sign_in, sso, started  # noqa: F401

ALEX_OID = "6ef26ce6-58e8-47e8-9e20-8f1916a478e0"


def contoso_user(factory, tenant, login, email, **fields):
    return factory.user(tenant, login, email=email, **fields)


def last_refusal() -> AuditEvent:
    return db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sign_in.refused")
                              .order_by(AuditEvent.id.desc())).first()


def links() -> int:
    return db.session.scalar(select(func.count()).select_from(LinkedAccount))


def test_login_page_offers_microsoft_only_when_an_integration_exists(client, people, app, fresh_emulator):
    assert "Sign in with Microsoft" not in client.get("/login").get_data(as_text=True)
    from .sso_helpers import make_integration

    make_integration(fresh_emulator)
    assert "Sign in with Microsoft" in client.get("/login").get_data(as_text=True)


def test_automatic_activation_links_then_the_link_survives_an_email_change(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    alex = contoso_user(factory, sso["tenant_a"], "alex", "Alex@Contoso.com")
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert trip.response.status_code == 302 and trip.response.headers["Location"] == "/"
    assert "Welcome, Alex" in client.get("/").get_data(as_text=True)
    link = db.session.scalars(select(LinkedAccount)).one()
    assert link.user_id == alex.id and link.oid == ALEX_OID
    client.post("/logout")
    sso["emulator"].state.set_user_email(ALEX_OID, "alex.wilber@contoso.com")
    second = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert second.response.status_code == 302
    assert links() == 1
    assert db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc())).first() == "sign_in.microsoft"


def test_attacker_claiming_a_contoso_email_is_refused_and_nothing_is_linked(client, sso, factory):
    integration = sso["integration"]
    connect(integration, sso["tenant_a"])
    # The attacker's organization is connected too (to another tenant), with automatic activation.
    connect(integration, sso["tenant_b"], ATTACKER_TID, domains=["attacker.example"], name="Attacker Corp")
    contoso_user(factory, sso["tenant_b"], "victim-b", "megan@contoso.com", role="tenant_admin")
    trip = microsoft_sign_in(client, sso["emulator"], integration, "mallory@attacker.example")
    assert trip.response.status_code == 403
    assert "Your account must be linked first" in trip.text
    assert links() == 0
    event = last_refusal()
    assert event.details["reason"] == "email_domain_unverified" and event.details["tid"] == ATTACKER_TID
    assert "id_token" not in str(event.details) and "code" not in event.details


def test_unconnected_organization_is_refused(client, sso, factory):
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert trip.response.status_code == 403
    assert "Your organization is not connected to this portal." in trip.text
    assert last_refusal().details["reason"] == "org_not_connected"


def test_disconnected_connection_refuses_its_linked_users(client, sso, factory):
    connection = connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    assert microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com").response.status_code == 302
    client.post("/logout")
    connection.status = "disconnected"
    db.session.commit()
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert trip.response.status_code == 403 and last_refusal().details["reason"] == "connection_not_active"


def test_without_automatic_activation_the_account_must_be_linked(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"], auto_activation=False)
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert "Your account must be linked first" in trip.text and last_refusal().details["reason"] == "not_linked"


@pytest.mark.parametrize("mode, reason", [
    ("bad_signature", "signature"), ("alg_none", "alg"), ("wrong_aud", "audience"),
    ("wrong_iss", "issuer"), ("iss_tid_mismatch", "issuer"), ("expired", "expired"),
])
def test_bad_tokens_are_refused(client, sso, factory, mode, reason):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    sso["emulator"].state.set_tamper(mode)
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert trip.response.status_code == 400 and "could not be verified" in trip.text
    assert last_refusal().details["reason"] == f"invalid_token:{reason}"
    assert client.get("/").status_code == 302 and links() == 0


def test_wrong_nonce_is_refused(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    sso["emulator"].state.set_tamper("wrong_nonce")
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert trip.response.status_code == 400 and last_refusal().details["reason"] == "invalid_token:nonce"


def test_unknown_kid_is_accepted_after_one_jwks_refresh(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    sso["emulator"].state.set_tamper("unknown_kid")
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert trip.response.status_code == 302, trip.text[:500]


def test_replayed_state_is_refused(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert trip.response.status_code == 302
    client.post("/logout")
    replay = callback(client, trip.browser.redirect_url)
    assert replay.status_code == 400 and "does not belong to a sign-in started in this browser" in replay.get_data(as_text=True)


def test_state_from_another_browser_session_is_refused(app, client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    start = client.post(f"/auth/microsoft/start/{sso['integration'].id}")
    other = app.test_client()
    other.get("/login")
    trip = drive(other, sso["emulator"], start.headers["Location"], "alex@contoso.com")
    assert trip.response.status_code == 400
    assert other.get("/").status_code == 302


def test_missing_state_is_refused(client, sso):
    assert client.get("/auth/microsoft/callback?code=abc").status_code == 400


def test_sso_disabled_refuses_microsoft(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    sso["tenant_a"].policy.sso_mode = "disabled"
    db.session.commit()
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert trip.response.status_code == 403 and last_refusal().details["reason"] == "sso_disabled"


def test_mandatory_refuses_passwords_but_allows_microsoft(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    sso["tenant_a"].policy.sso_mode = "mandatory"
    db.session.commit()
    assert client.post("/login", data={"login": "alex", "password": "Correct-Horse-9"}).status_code == 200
    assert microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com").response.status_code == 302


def test_restricted_domains_block_others_even_with_valid_credentials(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    sso["tenant_a"].policy.restricted_domains = ["example.org"]
    db.session.commit()
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert "Single sign-on is not allowed for your email domain." in trip.text
    assert last_refusal().details["reason"] == "domain_not_allowed"


@pytest.mark.parametrize("change, reason", [
    ({"web_access": False}, "web_access_disabled"),
    ({"valid_till": dt.date(2020, 1, 1)}, "expired"),
])
def test_account_state_refuses(client, sso, factory, change, reason):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com", **change)
    trip = microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    assert trip.response.status_code == 403 and last_refusal().details["reason"] == reason


def test_password_user_may_use_sso_and_sso_user_only_microsoft(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")  # Password type
    contoso_user(factory, sso["tenant_a"], "diego", "diego@contoso.com", auth_type="sso", password=False)
    assert microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com").response.status_code == 302
    client.post("/logout")
    assert microsoft_sign_in(client, sso["emulator"], sso["integration"], "diego@contoso.com").response.status_code == 302
    client.post("/logout")
    assert client.post("/login", data={"login": "diego", "password": "Correct-Horse-9"}).status_code == 200


def test_auto_activate_sso_creates_the_connection_for_the_single_matching_admin(client, sso, factory):
    integration = sso["integration"]
    integration.auto_activate = True
    db.session.commit()
    megan = contoso_user(factory, sso["tenant_a"], "megan", "megan@contoso.com", role="tenant_admin")
    trip = microsoft_sign_in(client, sso["emulator"], integration, "megan@contoso.com", on_behalf=True)
    assert trip.response.status_code == 302, trip.text[:600]
    from app.models import Connection

    connection = db.session.scalars(select(Connection)).one()
    assert connection.tenant_id == megan.tenant_id and connection.status == "connected"
    assert connection.org_tid == CONTOSO_TID and "contoso.com" in connection.verified_domains
    assert db.session.scalars(select(LinkedAccount.user_id)).one() == megan.id


def test_auto_activate_sso_refused_without_a_single_matching_admin(client, sso, factory):
    integration = sso["integration"]
    integration.auto_activate = True
    db.session.commit()
    contoso_user(factory, sso["tenant_a"], "megan", "megan@contoso.com", role="tenant_admin")
    contoso_user(factory, sso["tenant_b"], "megan-b", "megan@contoso.com", role="tenant_admin")
    trip = microsoft_sign_in(client, sso["emulator"], integration, "megan@contoso.com", on_behalf=True)
    assert trip.response.status_code == 403
    assert "must first connect it" in trip.text
    from app.models import Connection

    assert db.session.scalar(select(func.count()).select_from(Connection)) == 0


def test_two_simultaneous_first_sign_ins_create_one_link(app, client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    first, second = app.test_client(), app.test_client()
    answers = []
    for c in (first, second):
        browser = authorize(sso["emulator"], started(c, sso["integration"]), "alex@contoso.com")
        answers.append((c, browser.redirect_url))
    import threading

    results = []
    def deliver(c, url):
        with app.app_context():
            results.append(callback(c, url).status_code)

    threads = [threading.Thread(target=deliver, args=answer) for answer in answers]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results == [302, 302]
    assert links() == 1


def test_consent_cancelled_and_approval_required(client, sso, factory):
    fabrikam = sso["tenant_b"]
    from .emulator_fixtures import FABRIKAM_TID

    connect(sso["integration"], fabrikam, FABRIKAM_TID, domains=["fabrikam.com"], name="Fabrikam")
    contoso_user(factory, fabrikam, "ben", "ben@fabrikam.com")
    start = client.post(f"/auth/microsoft/start/{sso['integration'].id}")
    from .sso_helpers import make_browser

    browser = make_browser(sso["emulator"])
    browser.open(start.headers["Location"])
    browser.pick("ben@fabrikam.com")
    assert "Approval required" in browser.text or "Need admin approval" in browser.text
    browser.follow_link("return")
    answer = callback(client, browser.redirect_url)
    body = answer.get_data(as_text=True)
    assert "Approval required" in body and "Grant admin consent" in body
    assert "Entra ID &gt; Enterprise apps &gt; All Applications" in body


def test_provider_down_gives_a_clear_page_and_passwords_still_work(app, client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    app.config["IDP_TIMEOUT_SECONDS"] = 1
    browser = authorize(sso["emulator"], started(client, sso["integration"]), "alex@contoso.com")
    sso["emulator"].state.set_delay(3)
    import time

    began = time.monotonic()
    answer = callback(client, browser.redirect_url)
    assert time.monotonic() - began < 3
    assert answer.status_code == 503 and "did not answer in time" in answer.get_data(as_text=True)
    assert client.post("/login", data={"login": "alex", "password": "Correct-Horse-9"}).status_code == 302


@pytest.mark.parametrize("mode, words", [("fail_500", "answered with an error"), ("non_json", "could not read")])
def test_provider_failures_never_500(client, sso, factory, mode, words):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    browser = authorize(sso["emulator"], started(client, sso["integration"]), "alex@contoso.com")
    sso["emulator"].state.set_tamper(mode)
    answer = callback(client, browser.redirect_url)
    assert answer.status_code == 503 and words in answer.get_data(as_text=True)


def test_session_holds_no_tokens_and_the_flow_is_removed(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    with client.session_transaction() as session:
        assert set(session.keys()) <= {"_user_id", "_fresh", "_id", "auth_method", "_started", "_seen", "_bk",
                                       "csrf_token", "_flashes", "sso_integration_id"}
    from app.models import AuthFlow

    assert db.session.scalar(select(func.count()).select_from(AuthFlow)) == 0


def test_home_realm_hint(client, sso):
    connection = connect(sso["integration"], sso["tenant_a"])
    assert client.get("/auth/microsoft/realm?email=alex@CONTOSO.com").json == {"integration_id": sso["integration"].id}
    assert client.get("/auth/microsoft/realm?email=alex@example.org").json == {"integration_id": None}
    # Without JavaScript: an email and no password goes to Microsoft with the account hinted.
    response = client.post("/login", data={"login": "alex@contoso.com", "password": ""})
    assert response.status_code == 302 and "login_hint=alex%40contoso.com" in response.headers["Location"]
    assert connection.id


def test_link_from_profile_after_password_then_unlink(client, sso, factory, login):
    connect(sso["integration"], sso["tenant_a"], auto_activation=False)
    user = contoso_user(factory, sso["tenant_a"], "alexw", "alex.w@other.example")  # emails differ
    login("alexw")
    page = client.get("/profile/microsoft").get_data(as_text=True)
    assert "Link Microsoft account" in page
    wrong = client.post("/profile/microsoft", data={"integration_id": sso["integration"].id, "password": "nope"})
    assert "The password is not right." in wrong.get_data(as_text=True)
    start = client.post("/profile/microsoft", data={"integration_id": sso["integration"].id,
                                                    "password": "Correct-Horse-9"})
    assert start.status_code == 302
    trip = drive(client, sso["emulator"], start.headers["Location"], "alex@contoso.com")
    assert trip.response.status_code == 302
    link = db.session.scalars(select(LinkedAccount)).one()
    assert link.user_id == user.id and link.oid == ALEX_OID
    client.post("/logout")
    assert microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com").response.status_code == 302
    assert client.post(f"/profile/microsoft/{link.id}/unlink").status_code == 302
    assert links() == 0
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "link.created" in actions and "link.removed" in actions


def test_cannot_link_an_account_linked_to_someone_else(client, sso, factory, login):
    connect(sso["integration"], sso["tenant_a"], auto_activation=False)
    first = contoso_user(factory, sso["tenant_a"], "first", "first@other.example")
    contoso_user(factory, sso["tenant_a"], "second", "second@other.example")
    pages = []
    for name in ("first", "second"):
        login(name)
        start = client.post("/profile/microsoft", data={"integration_id": sso["integration"].id,
                                                        "password": "Correct-Horse-9"})
        trip = drive(client, sso["emulator"], start.headers["Location"], "alex@contoso.com")
        pages.append(client.get(trip.response.headers["Location"]).get_data(as_text=True))
        client.post("/logout")
    assert "Your Microsoft account is linked" in pages[0]
    assert "already linked to another portal user" in pages[1]
    assert db.session.scalars(select(LinkedAccount.user_id)).all() == [first.id]


def test_other_users_link_cannot_be_unlinked(client, sso, factory, login):
    connection = connect(sso["integration"], sso["tenant_a"])
    victim = contoso_user(factory, sso["tenant_a"], "victim", "victim@contoso.com")
    db.session.add(LinkedAccount(connection_id=connection.id, user_id=victim.id, oid="x"))
    db.session.commit()
    login("user-a")
    link_id = db.session.scalars(select(LinkedAccount.id)).one()
    assert client.post(f"/profile/microsoft/{link_id}/unlink").status_code == 404
    assert links() == 1


def test_sign_out_after_microsoft_offers_microsofts_sign_out(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    microsoft_sign_in(client, sso["emulator"], sso["integration"], "alex@contoso.com")
    out = client.post("/logout")
    assert "/signed-out?integration=" in out.headers["Location"]
    page = client.get(out.headers["Location"]).get_data(as_text=True)
    assert "Sign out of Microsoft too" in page and "/oauth2/v2.0/logout?post_logout_redirect_uri=" in page
    assert client.get("/").status_code == 302


def test_callback_with_neither_code_nor_error_is_a_clear_page(client, sso):
    auth_uri = started(client, sso["integration"])
    from urllib.parse import parse_qs, urlsplit

    state = parse_qs(urlsplit(auth_uri).query)["state"][0]
    answer = client.get("/auth/microsoft/callback", query_string={"state": state})
    assert answer.status_code == 503 and "could not read" in answer.get_data(as_text=True)


def test_reused_code_is_explained_not_500(client, sso, factory):
    connect(sso["integration"], sso["tenant_a"])
    contoso_user(factory, sso["tenant_a"], "alex", "alex@contoso.com")
    browser = authorize(sso["emulator"], started(client, sso["integration"]), "alex@contoso.com")
    code = browser.redirect_params["code"]
    assert callback(client, browser.redirect_url).status_code == 302
    client.post("/logout")
    second = authorize(sso["emulator"], started(client, sso["integration"]), "alex@contoso.com")
    from urllib.parse import urlencode

    forged = second.redirect_url.split("?")[0] + "?" + urlencode({**second.redirect_params, "code": code})
    answer = callback(client, forged)
    assert answer.status_code == 400 and "Microsoft could not sign you in" in answer.get_data(as_text=True)
    assert client.get("/").status_code == 302
