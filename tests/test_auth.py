"""Password sign-in over HTTP: the rules, the one public message, lockout, sessions, next."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, User

from .conftest import PASSWORD, sign_in

FAILED = "Invalid login or password."


def last_audit(action: str | None = None) -> AuditEvent:
    q = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        q = q.where(AuditEvent.action == action)
    return db.session.scalars(q).first()


def test_sign_in_shows_home_and_sign_out_ends_it(client, people):
    response = sign_in(client, "user-a")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Welcome, User-A" in page and "Sign out" in page
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_login_is_case_insensitive(client, people):
    assert sign_in(client, "USER-A").status_code == 302


def test_logout_is_post_only(client, people):
    sign_in(client, "user-a")
    assert client.get("/logout").status_code == 405


@pytest.mark.parametrize("case", ["unknown", "wrong_password", "disabled", "expired", "locked",
                                  "sso_type", "mandatory"])
def test_every_refusal_has_the_same_message_and_its_own_audit_reason(client, people, case):
    user: User = people["user_a"]
    login, password = user.login, PASSWORD
    expected = {
        "unknown": "unknown_login", "wrong_password": "bad_password", "disabled": "web_access_disabled",
        "expired": "expired", "locked": "locked", "sso_type": "sso_only", "mandatory": "sso_mandatory",
    }[case]
    if case == "unknown":
        login = "nobody"
    elif case == "wrong_password":
        password = "wrong-password"
    elif case == "disabled":
        user.web_access = False
    elif case == "expired":
        user.valid_till = dt.date.today() - dt.timedelta(days=1)
    elif case == "locked":
        user.locked_until = dt.datetime.utcnow() + dt.timedelta(minutes=5)
    elif case == "sso_type":
        user.auth_type = "sso"
    elif case == "mandatory":
        people["tenant_a"].policy.sso_mode = "mandatory"
    db.session.commit()
    response = sign_in(client, login, password)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert FAILED in body
    assert client.get("/").status_code == 302  # not signed in
    event = last_audit("sign_in.refused")
    assert event.details["reason"] == expected and event.details["method"] == "password"
    assert PASSWORD not in str(event.details) and "wrong-password" not in str(event.details)


def test_mandatory_does_not_stop_the_service_provider(client, people):
    people["tenant_a"].policy.sso_mode = "mandatory"
    db.session.commit()
    assert sign_in(client, "provider").status_code == 302


def test_lockout_after_the_policy_limit(client, people):
    policy = people["tenant_a"].policy
    policy.max_failed_attempts = 3
    db.session.commit()
    for _ in range(3):
        sign_in(client, "user-a", "nope")
    user = db.session.get(User, people["user_a"].id)
    db.session.refresh(user)
    assert user.locked_until is not None
    response = sign_in(client, "user-a")  # right password, but locked
    assert FAILED in response.get_data(as_text=True)
    assert last_audit("sign_in.refused").details["reason"] == "locked"
    assert last_audit("user.locked") is not None


def test_lockout_ends_after_its_minutes(client, people, frozen_clock):
    start = dt.datetime(2026, 12, 1, 9, 0)
    frozen_clock(start)
    people["tenant_a"].policy.max_failed_attempts = 2
    people["tenant_a"].policy.lockout_minutes = 10
    db.session.commit()
    sign_in(client, "user-a", "nope")
    sign_in(client, "user-a", "nope")
    frozen_clock(start + dt.timedelta(minutes=9))
    assert sign_in(client, "user-a").status_code == 200
    frozen_clock(start + dt.timedelta(minutes=11))
    assert sign_in(client, "user-a").status_code == 302


def test_valid_till_is_inclusive(client, people, frozen_clock):
    people["user_a"].valid_till = dt.date(2026, 12, 1)
    db.session.commit()
    frozen_clock(dt.datetime(2026, 12, 1, 23, 59))
    assert sign_in(client, "user-a").status_code == 302
    client.post("/logout")
    frozen_clock(dt.datetime(2026, 12, 2, 0, 0))
    assert sign_in(client, "user-a").status_code == 200


def test_disabling_a_user_ends_their_session(client, people):
    sign_in(client, "user-a")
    assert client.get("/").status_code == 200
    user = db.session.get(User, people["user_a"].id)
    user.web_access = False
    user.session_version += 1
    db.session.commit()
    assert client.get("/").status_code == 302


def test_session_version_bump_alone_ends_the_session(client, people):
    sign_in(client, "user-a")
    user = db.session.get(User, people["user_a"].id)
    user.session_version += 1
    db.session.commit()
    assert client.get("/").status_code == 302


def test_session_is_cleared_before_login(client, people):
    with client.session_transaction() as sess:
        sess["planted"] = "by-attacker"
    sign_in(client, "user-a")
    with client.session_transaction() as sess:
        assert "planted" not in sess


@pytest.mark.parametrize("target", [
    "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "https:evil.example",
    "https://evil.example/", "http://evil.example", "%2F%2Fevil.example", "/%2F/evil.example",
    "%252F%252Fevil.example", "javascript:alert(1)", " //evil.example", "/\t/evil.example",
])
def test_next_never_leaves_the_site(client, people, target):
    response = sign_in(client, "user-a", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_next_to_a_local_page_is_kept(client, people):
    response = sign_in(client, "provider", next_url="/admin/tenants/?q=a")
    assert response.headers["Location"] == "/admin/tenants/?q=a"


def test_rate_limit_per_address(app, client, people):
    app.config["LOGIN_RATE_LIMIT"] = 3
    for _ in range(3):
        sign_in(client, "user-a", "nope")
    response = sign_in(client, "user-a")
    assert response.status_code == 429
    assert last_audit("sign_in.refused").details["reason"] == "rate_limited"


def test_idle_session_expires(client, people, frozen_clock, app):
    start = dt.datetime(2026, 12, 1, 9, 0)
    frozen_clock(start)
    sign_in(client, "user-a")
    frozen_clock(start + dt.timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    assert client.get("/").status_code == 302


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "<script>" not in response.get_data(as_text=True)  # no inline script


def test_login_escapes_typed_values(client, people):
    body = sign_in(client, "<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body


def test_csrf_is_enforced_when_on(app_config, password_hash):
    from app import create_app

    app_config["WTF_CSRF_ENABLED"] = True
    app = create_app(app_config)
    with app.app_context():
        client = app.test_client()
        response = client.post("/login", data={"login": "x", "password": "y"})
        assert response.status_code == 400
        assert "form expired" in response.get_data(as_text=True)
        page = client.get("/login").get_data(as_text=True)
        import re

        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/login", data={"login": "x", "password": "y", "csrf_token": token})
        assert response.status_code == 200 and FAILED in response.get_data(as_text=True)
        db.session.remove()
        db.engine.dispose()


def test_mandatory_ends_existing_password_sessions(client, people):
    sign_in(client, "user-a")
    assert client.get("/").status_code == 200
    people["tenant_a"].policy.sso_mode = "mandatory"
    db.session.commit()
    assert client.get("/").status_code == 302


def test_switching_to_sso_ends_password_session(client, people):
    sign_in(client, "user-a")
    people["user_a"].auth_type = "sso"
    db.session.commit()
    assert client.get("/").status_code == 302
