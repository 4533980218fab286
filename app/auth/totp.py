"""2-step verification (TOTP, RFC 6238): secrets, QR codes, single-use codes and attempt limits.

Used by the sign-in step (app/auth/two_step.py) and the profile's set-up page. Writes to the user
row are plain conditional UPDATEs: they must not bump the row version an admin may be editing,
and the one that claims a code's time step is atomic, so a code is accepted once, even when two
requests race with it.
"""
from __future__ import annotations

import datetime as dt
from typing import Optional

import pyotp
import segno
from flask import current_app
from sqlalchemy import or_, update

from .. import audit, crypto
from ..extensions import db
from ..models import User
from ..security import hit_rate_limit

ISSUER = "Call Recording"
# How long the step between password and code may take, in seconds.
PENDING_SECONDS = 300

OK = "ok"
INVALID = "totp_invalid"
REPLAYED = "totp_replayed"
RATE_LIMITED = "rate_limited"
MESSAGES = {
    INVALID: "That code is not right. Enter the 6-digit code your authenticator app shows now.",
    REPLAYED: "That code was already used. Wait for the next code from your authenticator app.",
    RATE_LIMITED: "Too many codes were tried. Wait a few minutes, then try again.",
}


def new_secret() -> str:
    """A fresh random base32 secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, user: User) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.login, issuer_name=ISSUER)


def qr_data_uri(uri: str) -> str:
    """The QR code as an SVG data: URI for an <img> (the CSP allows data: images, not inline styles)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def grouped(secret: str) -> str:
    """The secret in groups of four, easier to type into an app by hand."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def is_enrolled(user: User) -> bool:
    """True when the user has a confirmed authenticator."""
    return bool(user.totp_secret_enc) and bool(user.totp_confirmed)


def stored_secret(user: User) -> Optional[str]:
    """The user's confirmed secret, decrypted."""
    return crypto.decrypt(user.totp_secret_enc) if is_enrolled(user) else None


def matching_step(secret: Optional[str], code: str, now: dt.datetime) -> Optional[int]:
    """The time step the code belongs to (this one or its neighbours, for clock drift), or None."""
    digits = "".join((code or "").split())
    if not secret or len(digits) != 6 or not digits.isdigit():
        return None
    moment = now.replace(tzinfo=dt.timezone.utc)  # the app's clock is naive UTC
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(digits, for_time=moment, valid_window=1)
    except pyotp.exceptions.OTPVerificationError:
        return None


def claim_step(user_id: int, step: int) -> bool:
    """Record the step as used; False if it (or a later one) was used already (a replay)."""
    result = db.session.execute(
        update(User).where(User.id == user_id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return result.rowcount == 1


def save_enrolment(user: User, secret: str, step: int) -> None:
    """Store the confirmed secret (encrypted) and the step of the code that confirmed it."""
    db.session.execute(update(User).where(User.id == user.id).values(
        totp_secret_enc=crypto.encrypt(secret), totp_confirmed=True, totp_last_step=step)
        .execution_options(synchronize_session=False))
    audit.record("user.two_step_enrolled", tenant_id=user.tenant_id, target=user, actor=user,
                 details={"before": {"two_step_enrolled": False}, "after": {"two_step_enrolled": True}})


def rate_limited(user_id: int) -> bool:
    """Count a code attempt for this user; True once the limit for the window is passed."""
    cfg = current_app.config
    return hit_rate_limit(f"totp:{user_id}", cfg["TOTP_RATE_LIMIT"], cfg["TOTP_RATE_WINDOW_SECONDS"])


def check_code(user: User, secret: Optional[str], code: str, now: dt.datetime, *, enrol: bool,
               purpose: str) -> str:
    """Check a code (limit, match, single use); on success during enrolment, store the secret.

    Returns OK or a reason code; every refusal is audited (purpose: "sign_in" or "profile").
    """
    reason = OK
    if rate_limited(user.id):
        reason = RATE_LIMITED
    else:
        step = matching_step(secret, code, now)
        if step is None:
            reason = INVALID
        elif enrol:
            save_enrolment(user, secret, step)
        elif not claim_step(user.id, step):
            reason = REPLAYED
    if reason != OK:
        audit.record("sign_in.refused" if purpose == "sign_in" else "user.two_step_refused",
                     tenant_id=user.tenant_id, target=user, actor=user,
                     details={"method": "totp", "reason": reason})
    return reason
