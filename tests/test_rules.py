"""The sign-in rules of DESIGN §4, row by row, without HTTP or a database (app/auth/rules.py)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace as NS

import pytest

from app.auth import rules

NOW = dt.datetime(2026, 6, 15, 12, 0)
TODAY = NOW.date()
TENANT = 1


def user(**over):
    """A password user of tenant 1 who may sign in, with overrides."""
    base = dict(id=7, tenant_id=TENANT, role="user", login="megan", email="megan@contoso.com",
                auth_type="password", web_access=True, valid_till=None, locked_until=None,
                password_hash="$argon2id$...", require_2fa=False, totp_secret_enc=None, totp_confirmed=False)
    return NS(**{**base, **over})


def policy(**over):
    base = dict(sso_mode="enabled", restricted_domains=[], totp_enabled=False)
    return NS(**{**base, **over})


def connection(**over):
    base = dict(id=3, tenant_id=TENANT, status="connected", auto_activation=True,
                verified_domains=["contoso.com"], integration=NS(enabled=True))
    return NS(**{**base, **over})


SP = dict(role="system_admin", tenant_id=None)

# ---- Password sign-in: DESIGN §4 "Password sign-in is allowed when all hold" ----------------------
PASSWORD_ROWS = [
    # (id, user overrides or None for an unknown login, policy overrides, password ok, allowed, reason)
    ("1 unknown login: same failure as a wrong password", None, {}, False, False, rules.UNKNOWN_LOGIN),
    ("2 web portal access disabled", {"web_access": False}, {}, True, False, rules.WEB_ACCESS_DISABLED),
    ("2 valid till passed", {"valid_till": TODAY - dt.timedelta(days=1)}, {}, True, False, rules.EXPIRED),
    ("2 valid till today is still valid", {"valid_till": TODAY}, {}, True, True, rules.OK),
    ("2 locked", {"locked_until": NOW + dt.timedelta(minutes=1)}, {}, True, False, rules.LOCKED),
    ("2 lockout over", {"locked_until": NOW - dt.timedelta(seconds=1)}, {}, True, True, rules.OK),
    ("3 SSO user refused a password", {"auth_type": "sso"}, {}, True, False, rules.SSO_ONLY),
    ("4 Mandatory refuses passwords", {}, {"sso_mode": "mandatory"}, True, False, rules.SSO_MANDATORY),
    ("4 Mandatory does not stop the service provider", SP, {"sso_mode": "mandatory"}, True, True, rules.OK),
    ("4 service provider keeps passwords whatever the type", {**SP, "auth_type": "sso"}, {}, True, True, rules.OK),
    ("4 Disabled SSO leaves passwords alone", {}, {"sso_mode": "disabled"}, True, True, rules.OK),
    ("5 wrong password", {}, {}, False, False, rules.BAD_PASSWORD),
    ("5 no password set", {"password_hash": None}, {}, True, False, rules.NO_PASSWORD),
    ("5 service provider without a password", {**SP, "password_hash": None}, {}, True, False, rules.NO_PASSWORD),
    ("6 2-step required and enrolled", {"require_2fa": True, "totp_secret_enc": "x", "totp_confirmed": True},
     {"totp_enabled": True}, True, True, rules.TOTP_REQUIRED),
    ("6 2-step required, not set up yet", {"require_2fa": True}, {"totp_enabled": True}, True, True, rules.TOTP_ENROL),
    ("6 2-step required but off for the tenant", {"require_2fa": True}, {"totp_enabled": False}, True, True, rules.OK),
    ("all rules pass", {}, {}, True, True, rules.OK),
]


@pytest.mark.parametrize("case", PASSWORD_ROWS, ids=[r[0] for r in PASSWORD_ROWS])
def test_password_sign_in(case):
    _, user_over, policy_over, password_ok, allowed, reason = case
    u = None if user_over is None else user(**user_over)
    p = None if u is not None and u.role == "system_admin" and not policy_over else policy(**policy_over)
    decision = rules.password_sign_in(u, p, password_ok, NOW)
    assert (decision.allowed, decision.reason) == (allowed, reason)
    assert decision.message == rules.EXPLANATIONS[reason]


def test_a_refused_account_is_refused_before_the_password_is_judged():
    # The wrong password does not count toward lockout when the account is unusable anyway.
    assert rules.password_sign_in(user(auth_type="sso"), policy(), False, NOW).reason == rules.SSO_ONLY


def test_policyless_tenant_user_reads_as_enabled():
    assert rules.password_sign_in(user(), None, True, NOW).allowed
    assert rules.user_may_use_microsoft(user(), None, NOW).allowed


# ---- Microsoft sign-in: DESIGN §4 "Microsoft sign-in is allowed when all hold" ---------------------
CLAIMS = {"tid": "org-1", "oid": "oid-megan", "email": "megan@contoso.com"}


def ms(conn="default", integration=None, pol=None, claims=None, linked="default", by_email=None):
    """Run microsoft_sign_in with the happy-path defaults (a linked Password user)."""
    return rules.microsoft_sign_in(
        connection=connection() if conn == "default" else conn,
        integration=integration,
        policy=pol or policy(),
        claims={**CLAIMS, **(claims or {})},
        linked_user=user() if linked == "default" else linked,
        email_user=by_email,
        now=NOW,
    )


MICROSOFT_ROWS = [
    # (id, kwargs for ms(), allowed, reason)
    ("1 SSO Disabled", dict(pol=policy(sso_mode="disabled")), False, rules.SSO_DISABLED),
    ("1 SSO Enabled", dict(), True, rules.OK),
    ("1 SSO Mandatory", dict(pol=policy(sso_mode="mandatory")), True, rules.OK),
    ("1 an unknown mode refuses", dict(pol=policy(sso_mode="bogus")), False, rules.SSO_DISABLED),
    ("2 organization not connected", dict(conn=None), False, rules.ORG_NOT_CONNECTED),
    ("2 connection pending", dict(conn=connection(status="pending")), False, rules.CONNECTION_NOT_ACTIVE),
    ("2 connection in error", dict(conn=connection(status="error")), False, rules.CONNECTION_NOT_ACTIVE),
    ("2 connection disconnected", dict(conn=connection(status="disconnected")), False, rules.CONNECTION_NOT_ACTIVE),
    ("2 integration disabled (given)", dict(integration=NS(enabled=False)), False, rules.INTEGRATION_DISABLED),
    ("2 integration disabled (via the connection)", dict(conn=connection(integration=NS(enabled=False))),
     False, rules.INTEGRATION_DISABLED),
    ("3 a link of another tenant", dict(linked=user(tenant_id=2)), False, rules.WRONG_TENANT),
    ("3 the link identifies even after the email changed in Entra ID",
     dict(claims={"email": "megan.bowen@contoso.onmicrosoft.com"}), True, rules.OK),
    ("3 no link and automatic activation off", dict(conn=connection(auto_activation=False), linked=None,
                                                     by_email=user()), False, rules.NOT_LINKED),
    ("3 no link and no email claim", dict(linked=None, claims={"email": None}, by_email=user()),
     False, rules.NO_EMAIL_CLAIM),
    ("3 nOAuth: unverified email domain, xms_edov false",
     dict(linked=None, claims={"email": "megan@contoso.com", "xms_edov": False},
          conn=connection(verified_domains=["fabrikam.com"]), by_email=user()), False, rules.EMAIL_UNVERIFIED),
    ("3 nOAuth: xms_edov true cannot replace a verified domain",
     dict(linked=None, claims={"xms_edov": True}, conn=connection(verified_domains=["fabrikam.com"]),
          by_email=user()), False, rules.EMAIL_UNVERIFIED),
    ("3 nOAuth: Microsoft says the domain owner is not verified",
     dict(linked=None, claims={"xms_edov": "false"}, by_email=user()), False, rules.EMAIL_UNVERIFIED),
    ("3 match by verified email (case ignored) creates the link",
     dict(linked=None, claims={"email": "Megan@CONTOSO.com", "xms_edov": True}, by_email=user()), True, rules.OK),
    ("3 no user has the email", dict(linked=None, by_email=None), False, rules.NO_MATCHING_USER),
    ("3 the email's user is in another tenant", dict(linked=None, by_email=user(tenant_id=2)),
     False, rules.NO_MATCHING_USER),
    ("3 the looked-up user's email differs", dict(linked=None, by_email=user(email="other@contoso.com")),
     False, rules.NO_MATCHING_USER),
    ("4 web portal access disabled", dict(linked=user(web_access=False)), False, rules.WEB_ACCESS_DISABLED),
    ("4 valid till passed", dict(linked=user(valid_till=TODAY - dt.timedelta(days=1))), False, rules.EXPIRED),
    ("5 empty domain list allows all", dict(linked=user(email="x@anything.example")), True, rules.OK),
    ("5 listed domains block others even with valid Microsoft credentials",
     dict(pol=policy(restricted_domains=["contoso.com"]), linked=user(email="megan@fabrikam.com")),
     False, rules.DOMAIN_NOT_ALLOWED),
    ("5 email case ignored", dict(pol=policy(restricted_domains=["contoso.com"]),
                                  linked=user(email="Megan@CONTOSO.COM")), True, rules.OK),
    ("5 contoso.com.evil.com is not contoso.com", dict(pol=policy(restricted_domains=["contoso.com"]),
                                                       linked=user(email="m@contoso.com.evil.com")),
     False, rules.DOMAIN_NOT_ALLOWED),
    ("5 evilcontoso.com is not contoso.com", dict(pol=policy(restricted_domains=["contoso.com"]),
                                                  linked=user(email="m@evilcontoso.com")),
     False, rules.DOMAIN_NOT_ALLOWED),
    ("5 sub.contoso.com is not contoso.com", dict(pol=policy(restricted_domains=["contoso.com"]),
                                                  linked=user(email="m@sub.contoso.com")),
     False, rules.DOMAIN_NOT_ALLOWED),
    ("5 a second listed domain", dict(pol=policy(restricted_domains=["contoso.com", "example.org"]),
                                      linked=user(email="m@example.org")), True, rules.OK),
    ("5 restricted domains also guard the first match by email",
     dict(pol=policy(restricted_domains=["example.org"]), linked=None, by_email=user()),
     False, rules.DOMAIN_NOT_ALLOWED),
    ("6 Password user may use SSO", dict(linked=user(auth_type="password")), True, rules.OK),
    ("6 SSO user may use SSO", dict(linked=user(auth_type="sso")), True, rules.OK),
]


@pytest.mark.parametrize("case", MICROSOFT_ROWS, ids=[r[0] for r in MICROSOFT_ROWS])
def test_microsoft_sign_in(case):
    _, kwargs, allowed, reason = case
    decision = ms(**kwargs)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_match_by_email_says_to_create_the_link_and_a_link_does_not():
    by_email = ms(linked=None, by_email=user())
    assert by_email.allowed and by_email.data["create_link"] is True and by_email.data["user"].id == 7
    by_link = ms()
    assert by_link.allowed and by_link.data["create_link"] is False


# ---- "Could this user sign in today" (Check access, lockout preview) -------------------------------
TODAY_ROWS = [
    # (id, user overrides, policy overrides, connections, has_link, allowed, reason)
    ("SSO Disabled comes first", {}, {"sso_mode": "disabled"}, [], False, False, rules.SSO_DISABLED),
    ("no connection", {}, {}, [], True, False, rules.ORG_NOT_CONNECTED),
    ("only a pending connection", {}, {}, [connection(status="pending")], True, False, rules.ORG_NOT_CONNECTED),
    ("integration disabled", {}, {}, [{"status": "connected", "integration_enabled": False}], True,
     False, rules.ORG_NOT_CONNECTED),
    ("linked", {}, {}, [connection(auto_activation=False)], True, True, rules.OK),
    ("not linked, no automatic activation", {}, {}, [connection(auto_activation=False)], False,
     False, rules.NOT_LINKED),
    ("not linked, email domain not verified", {}, {}, [connection(verified_domains=["fabrikam.com"])], False,
     False, rules.EMAIL_UNVERIFIED),
    ("not linked, email verified: first sign-in matches", {}, {}, [connection()], False, True, rules.OK),
    ("outside the restricted domains", {"email": "m@fabrikam.com"}, {"restricted_domains": ["contoso.com"]},
     [connection(verified_domains=["fabrikam.com"])], True, False, rules.DOMAIN_NOT_ALLOWED),
    ("disabled account", {"web_access": False}, {}, [connection()], True, False, rules.WEB_ACCESS_DISABLED),
]


@pytest.mark.parametrize("case", TODAY_ROWS, ids=[r[0] for r in TODAY_ROWS])
def test_could_use_microsoft_today(case):
    _, user_over, policy_over, conns, has_link, allowed, reason = case
    decision = rules.could_use_microsoft_today(user(**user_over), policy(**policy_over), conns, has_link, NOW)
    assert (decision.allowed, decision.reason) == (allowed, reason)


def test_could_use_password_today_is_the_password_rules_before_typing():
    assert rules.could_use_password_today(user(), policy(), NOW).allowed
    assert rules.could_use_password_today(user(), policy(sso_mode="mandatory"), NOW).reason == rules.SSO_MANDATORY
    assert rules.could_use_password_today(user(**SP), policy(sso_mode="mandatory"), NOW).allowed


def test_could_sign_in_today_needs_either_way():
    linked = [connection()]
    both = rules.could_sign_in_today(user(), policy(), linked, True, NOW)
    assert both.allowed and both.data["password"].allowed and both.data["microsoft"].allowed
    microsoft_only = rules.could_sign_in_today(user(), policy(sso_mode="mandatory"), linked, True, NOW)
    assert microsoft_only.allowed and not microsoft_only.data["password"].allowed
    neither = rules.could_sign_in_today(user(), policy(sso_mode="mandatory"), [], False, NOW)
    assert not neither.allowed and neither.reason == rules.ORG_NOT_CONNECTED


@pytest.mark.parametrize("claims,domains,expected", [
    ({"email": "m@contoso.com"}, ["contoso.com"], True),
    ({"email": "M@Contoso.COM."}, ["contoso.com"], True),
    ({"email": "m@contoso.com", "xms_edov": True}, ["contoso.com"], True),
    ({"email": "m@contoso.com", "xms_edov": False}, ["contoso.com"], False),
    ({"email": "m@contoso.com", "xms_edov": True}, [], False),
    ({"email": "m@evil.com", "xms_edov": False}, ["contoso.com"], False),
    ({"email": "m@sub.contoso.com"}, ["contoso.com"], False),
    ({"email": "m@contoso.com@evil.com"}, ["contoso.com", "evil.com"], False),
    ({"email": ""}, ["contoso.com"], False),
    ({}, ["contoso.com"], False),
])
def test_email_is_verified_is_the_noauth_guard(claims, domains, expected):
    assert rules.email_is_verified(claims, domains) is expected


def test_every_reason_code_is_covered_by_a_row():
    # Each row above asserts its reason, so the rows' reasons are the codes the table proves.
    covered = {row[-1] for row in PASSWORD_ROWS + MICROSOFT_ROWS + TODAY_ROWS}
    assert set(rules.EXPLANATIONS) - covered == set()
