"""2-step verification (TOTP): enrolment at sign-in, codes, replay, limits, expiry, profile set-up."""
from __future__ import annotations

import datetime as dt
import re

import pyotp
import pytest
from sqlalchemy import select

from app import crypto
from app.extensions import db
from app.models import AuditEvent, User

from .conftest import sign_in

START = dt.datetime(2026, 12, 1, 9, 0, 0)
TWO_STEP = "/login/two-step"


def code_at(secret: str, moment: dt.datetime) -> str:
    """The code an authenticator app shows at this (naive UTC) moment."""
    return pyotp.TOTP(secret).at(moment.replace(tzinfo=dt.timezone.utc))


def body(response) -> str:
    """The page as text."""
    return response.get_data(as_text=True)


def fresh(user: User) -> User:
    """The user as the database has it now."""
    db.session.expire_all()
    return db.session.get(User, user.id)


def shown_secret(html: str) -> str:
    """The key printed under the QR code, without its spaces."""
    return re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")


def actions() -> list[str]:
    """Audit actions, oldest first."""
    return list(db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.fixture
def two_step_user(people, frozen_clock):
    """user-a requires 2-step verification in a tenant that has it enabled; the clock is frozen."""
    frozen_clock(START)
    people["tenant_a"].policy.totp_enabled = True
    people["user_a"].require_2fa = True
    db.session.commit()
    return people["user_a"]


def enrol(client, frozen_clock, moment: dt.datetime = START) -> str:
    """Sign in as user-a and finish the set-up with a real code; returns the secret."""
    frozen_clock(moment)
    assert sign_in(client, "user-a").headers["Location"] == TWO_STEP
    secret = shown_secret(body(client.get(TWO_STEP)))
    response = client.post(TWO_STEP, data={"code": code_at(secret, moment)})
    assert response.status_code == 302, body(response)[:800]
    return secret


def test_first_password_sign_in_sets_up_the_authenticator(client, two_step_user, frozen_clock):
    version = fresh(two_step_user).version
    response = sign_in(client, "user-a", next_url="/profile/")
    assert response.status_code == 302 and response.headers["Location"] == TWO_STEP
    assert client.get("/").status_code == 302  # not signed in before the code
    page = client.get(TWO_STEP)
    html = body(page)
    assert "Set up 2-step verification" in html
    assert re.search(r'<img class="border rounded" src="data:image/svg\+xml', html)
    assert " style=" not in html and "<script>" not in html  # nothing the CSP would block
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]
    secret = shown_secret(html)
    assert len(secret) == 32
    assert client.get(TWO_STEP).status_code == 200 and shown_secret(body(client.get(TWO_STEP))) == secret
    wrong = client.post(TWO_STEP, data={"code": "000000" if code_at(secret, START) != "000000" else "111111"})
    assert "That code is not right." in body(wrong) and client.get("/").status_code == 302
    code = code_at(secret, START)
    response = client.post(TWO_STEP, data={"code": code[:3] + " " + code[3:]})
    assert response.status_code == 302 and response.headers["Location"] == "/profile/"
    assert client.get("/").status_code == 200
    user = fresh(two_step_user)
    assert user.totp_confirmed and user.totp_secret_enc and secret not in user.totp_secret_enc
    assert crypto.decrypt(user.totp_secret_enc) == secret
    assert user.totp_last_step == pyotp.TOTP(secret).timecode(START.replace(tzinfo=dt.timezone.utc))
    assert user.version == version  # the user's own sign-in does not disturb an admin's open edit form
    assert {"user.two_step_enrolled", "sign_in.two_step"} <= set(actions())
    logged = str([e.details for e in db.session.scalars(select(AuditEvent))])
    assert secret not in logged and code not in logged


def test_enrolled_user_enters_a_code_at_every_password_sign_in(client, two_step_user, frozen_clock):
    secret = enrol(client, frozen_clock)
    client.post("/logout")
    later = START + dt.timedelta(minutes=2)
    frozen_clock(later)
    sign_in(client, "user-a")
    html = body(client.get(TWO_STEP))
    assert "Enter the 6-digit code" in html and "data:image/svg" not in html
    assert client.post(TWO_STEP, data={"code": code_at(secret, later)}).status_code == 302
    assert client.get("/").status_code == 200


def test_a_used_code_is_refused_within_its_window(client, two_step_user, frozen_clock):
    secret = enrol(client, frozen_clock)
    client.post("/logout")
    frozen_clock(START + dt.timedelta(seconds=5))  # same 30-second step as the enrolment code
    sign_in(client, "user-a")
    html = body(client.post(TWO_STEP, data={"code": code_at(secret, START)}))
    assert "That code was already used." in html and client.get("/").status_code == 302
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sign_in.refused")
                               .order_by(AuditEvent.id.desc())).first()
    assert event.details == {"method": "totp", "reason": "totp_replayed"}
    # An older code (the previous step, inside the drift window) is refused too.
    frozen_clock(START + dt.timedelta(seconds=31))
    assert "already used" in body(client.post(TWO_STEP, data={"code": code_at(secret, START)}))
    assert client.post(TWO_STEP, data={"code": code_at(secret, START + dt.timedelta(seconds=31))}).status_code == 302


def test_code_attempts_are_rate_limited_per_user(client, two_step_user, frozen_clock):
    secret = enrol(client, frozen_clock)
    client.post("/logout")
    moment = START + dt.timedelta(minutes=1)
    frozen_clock(moment)
    sign_in(client, "user-a")
    right = code_at(secret, moment)
    wrong = "123456" if right != "123456" else "654321"
    for _ in range(4):  # the enrolment used one attempt of this window's five
        assert client.post(TWO_STEP, data={"code": wrong}).status_code == 200
    response = client.post(TWO_STEP, data={"code": right})
    assert response.status_code == 429 and "Too many codes" in body(response)
    assert client.get("/").status_code == 302
    frozen_clock(START + dt.timedelta(minutes=5, seconds=1))  # a new window, and a new sign-in
    sign_in(client, "user-a")
    later = START + dt.timedelta(minutes=5, seconds=1)
    assert client.post(TWO_STEP, data={"code": code_at(secret, later)}).status_code == 302


def test_the_pending_sign_in_expires(client, two_step_user, frozen_clock):
    sign_in(client, "user-a")
    frozen_clock(START + dt.timedelta(minutes=5, seconds=1))
    response = client.get(TWO_STEP)
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "expired" in body(client.get("/login"))


def test_a_change_by_an_admin_ends_the_pending_sign_in(client, two_step_user, frozen_clock):
    sign_in(client, "user-a")
    secret = shown_secret(body(client.get(TWO_STEP)))
    user = fresh(two_step_user)
    user.web_access = False
    user.session_version += 1
    db.session.commit()
    response = client.post(TWO_STEP, data={"code": code_at(secret, START)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302 and not fresh(two_step_user).totp_confirmed


def test_no_pending_sign_in_means_back_to_login(client, people):
    response = client.get(TWO_STEP)
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def test_tenant_switch_off_means_password_alone(client, two_step_user):
    two_step_user.tenant.policy.totp_enabled = False
    db.session.commit()
    response = sign_in(client, "user-a")
    assert response.headers["Location"] == "/" and client.get("/").status_code == 200


def test_admin_reset_makes_the_user_set_up_again(client, app, two_step_user, frozen_clock, login):
    enrol(client, frozen_clock)
    client.post("/logout")
    admin = app.test_client()
    sign_in(admin, "admin-a")
    admin.post(f"/admin/users/{two_step_user.id}/reset-two-step")
    assert not fresh(two_step_user).totp_confirmed
    sign_in(client, "user-a")
    assert "Set up 2-step verification" in body(client.get(TWO_STEP))


def test_profile_sets_up_two_step_when_required(client, people, frozen_clock, login):
    frozen_clock(START)
    login("user-a")  # signed in before 2-step verification was required
    assert "Not required for your account." in body(client.get("/profile/"))
    people["tenant_a"].policy.totp_enabled = True
    people["user_a"].require_2fa = True
    db.session.commit()
    html = body(client.get("/profile/"))
    assert "Required, but not set up yet." in html and 'href="/profile/two-step"' in html
    secret = shown_secret(body(client.get("/profile/two-step")))
    assert "is not right" in body(client.post("/profile/two-step", data={"code": "12345"}))
    response = client.post("/profile/two-step", data={"code": code_at(secret, START)})
    assert response.status_code == 302
    assert "On: after your password" in body(client.get("/profile/"))
    assert crypto.decrypt(fresh(people["user_a"]).totp_secret_enc) == secret
    assert client.get("/profile/two-step").status_code == 302  # nothing left to set up


def test_two_step_settings_page_enables_the_tenant_switch_used_at_sign_in(client, people, frozen_clock, login):
    frozen_clock(START)
    people["user_a"].require_2fa = True
    db.session.commit()
    login("admin-a")
    client.post("/admin/user-authentication/2-step-verification/", data={"totp": "enabled", "version": "1"})
    client.post("/logout")
    assert sign_in(client, "user-a").headers["Location"] == TWO_STEP
