"""Sign in with Microsoft: start, the one callback (shared with the wizard and linking), sign-out.

The callback takes the flow from the server-side store (refusing a missing or foreign state),
ends the database transaction, then talks to Microsoft, then dispatches on the flow's purpose.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

from flask import abort, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import audit
from ..db_sqlite import writes_on_get
from ..extensions import db
from ..models import CONN_CONNECTED, Connection, Integration
from ..security import safe_next
from . import bp, flows, microsoft, rules, sso
from .domains import email_domain
from .forms import EmptyForm
from .service import start_session

Handler = Callable[[Any, dict, dict], Any]
HANDLERS: dict[str, Handler] = {}
# How to start a round trip again after admin consent ("followed by a real sign-in").
RESTARTS: dict[str, Callable[[Any, dict], Any]] = {}

CONSENT_ERRORS = {"consent_required", "interaction_required"}
CONSENT_CODES = {"AADSTS65001", "AADSTS90094", "AADSTS90095"}  # 65004 is a decline: "cancelled"

# What a refused person is told: plain words, nothing about other tenants.
PUBLIC_MESSAGES = {
    rules.ORG_NOT_CONNECTED: "Your organization is not connected to this portal.",
    rules.CONNECTION_NOT_ACTIVE: "Your organization is not connected to this portal.",
    rules.INTEGRATION_DISABLED: "Your organization is not connected to this portal.",
    rules.SSO_DISABLED: "Single sign-on is turned off for your portal. Sign in with your login and password.",
    rules.DOMAIN_NOT_ALLOWED: "Single sign-on is not allowed for your email domain.",
    rules.NOT_LINKED: "Your account must be linked first: sign in with your password and link it from your profile.",
    rules.NO_EMAIL_CLAIM: "Your account must be linked first: sign in with your password and link it from your profile.",
    rules.EMAIL_UNVERIFIED: "Your account must be linked first: sign in with your password and link it from your profile.",
    rules.NO_MATCHING_USER: "Your account must be linked first: sign in with your password and link it from your profile.",
    rules.WRONG_TENANT: "Your account must be linked first: sign in with your password and link it from your profile.",
    rules.WEB_ACCESS_DISABLED: "Your account cannot sign in to the portal. Contact your administrator.",
    rules.EXPIRED: "Your account cannot sign in to the portal. Contact your administrator.",
}
PROVIDER_MESSAGES = {
    "timeout": "Microsoft did not answer in time.",
    "unreachable": "Microsoft could not be reached.",
    "server_error": "Microsoft answered with an error.",
    "bad_response": "Microsoft sent an answer the portal could not read.",
    "config": "The Microsoft integration is not configured completely.",
    "graph_error": "Microsoft Graph refused to read the organization.",
}


def register_handler(purpose: str, handler: Handler) -> None:
    """Let an area (the wizard, account linking) finish round trips of its own purpose."""
    HANDLERS[purpose] = handler


def register_restart(purpose: str, restart: Callable[[Any, dict], Any]) -> None:
    """How an area starts its round trip again once admin consent was granted."""
    RESTARTS[purpose] = restart


def snapshot(integration: Integration) -> SimpleNamespace:
    """The integration's columns as plain values, usable after the transaction has ended."""
    return SimpleNamespace(**{c.key: getattr(integration, c.key) for c in Integration.__table__.columns})


def problem(title: str, message: str, *, status: int = 400, detail: str = "", actions=None,
            consent_url: str | None = None, integration_id: int | None = None):
    """The page that explains why a round trip with Microsoft did not end in a sign-in."""
    return render_template("auth/problem.html", title=title, message=message, detail=detail,
                           actions=actions or [("Back to sign in", url_for("auth.login"))],
                           consent_url=consent_url, integration_id=integration_id,
                           form=EmptyForm()), status


def provider_problem(exc: microsoft.ProviderError, tenant_id=None, purpose: str = flows.SIGN_IN):
    """Audit a provider failure and explain it; password sign-in keeps working."""
    audit.record("idp.error", tenant_id=tenant_id, details={"purpose": purpose, "kind": exc.kind,
                                                            "detail": exc.detail[:200]})
    db.session.commit()
    return problem("Microsoft is not available", PROVIDER_MESSAGES.get(exc.kind, "Microsoft sign-in failed.")
                   + " Try again in a few minutes, or sign in with your login and password if your "
                   "account allows it.", status=503, detail=exc.detail)


def enabled_integrations() -> list[Integration]:
    """Integrations offered on the login page."""
    return list(db.session.scalars(select(Integration).where(Integration.enabled.is_(True))
                                   .order_by(Integration.owner_tenant_id.is_not(None), Integration.name)))


def posted_integration_or_404(integration_id: int) -> Integration:
    """The enabled integration a sign-in button posted to (its CSRF token checked)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    integration = db.session.get(Integration, integration_id)
    if integration is None or not integration.enabled:
        abort(404)
    return integration


@bp.route("/auth/microsoft/start/<int:integration_id>", methods=["POST"])
def microsoft_start(integration_id: int):
    """Send the browser to Microsoft to sign in through this integration."""
    integration = posted_integration_or_404(integration_id)
    return begin_sign_in(integration, request.form.get("login_hint"), request.form.get("next"))


def begin_sign_in(integration: Integration, hint: str | None, next_url: str | None):
    """Start a sign-in round trip (hinting the account when an email is known) and redirect."""
    info = snapshot(integration)
    db.session.commit()  # no transaction stays open while Microsoft is called
    hint = (hint or "").strip()[:254]
    try:
        flow = microsoft.start_flow(info, login_hint=hint or None,
                                    domain_hint=hint.rsplit("@", 1)[1] if "@" in hint else None)
    except microsoft.ProviderError as exc:
        return provider_problem(exc)
    flows.save(flows.SIGN_IN, info.id, flow, {"next": safe_next(next_url, "")})
    db.session.commit()
    return redirect(flow["auth_uri"])


def realm_integration(email: str | None) -> Integration | None:
    """Home-realm discovery: the enabled integration whose connected organization verified the
    email's domain (so the login page can offer Microsoft first)."""
    domain = email_domain(email)
    if not domain:
        return None
    rows = db.session.execute(
        select(Connection.verified_domains, Integration)
        .join(Integration, Integration.id == Connection.integration_id)
        .where(Connection.status == CONN_CONNECTED, Integration.enabled.is_(True))
    ).all()
    for domains, integration in rows:
        if domain in (domains or []):
            return integration
    return None


@bp.route("/auth/microsoft/realm")
def microsoft_realm():
    """JSON for the login page's hint: which integration serves this email's domain, if any."""
    integration = realm_integration(request.args.get("email"))
    return {"integration_id": integration.id if integration else None}


@bp.route("/auth/microsoft/callback")
@writes_on_get
def microsoft_callback():
    """The one redirect URI: finish whichever round trip this state belongs to."""
    row = flows.take(request.args.get("state"))
    if row is None:
        audit.record("callback.refused", tenant_id=None, details={"reason": "state_unknown_or_foreign",
                                                                  "admin_consent": "admin_consent" in request.args})
        db.session.commit()
        if "admin_consent" in request.args:
            # Consent granted from a shared link: Microsoft recorded it; the portal trusts nothing here.
            return problem("Administrator consent", "Microsoft has recorded the administrator's decision. If "
                           "consent was granted, people of that organization can now sign in with Microsoft.",
                           status=200)
        return problem("This sign-in could not be completed",
                       "The answer from Microsoft does not belong to a sign-in started in this browser, "
                       "or it has expired. Start again from the sign-in page.")
    integration = db.session.get(Integration, row.integration_id) if row.integration_id else None
    purpose, payload = row.purpose, dict(row.payload or {})
    info = snapshot(integration) if integration is not None else None
    db.session.commit()  # the flow is used up; nothing stays open while Microsoft is called
    if info is None or purpose not in HANDLERS:
        return problem("This sign-in could not be completed", "The integration is no longer available.")
    return HANDLERS[purpose](info, payload, request.args.to_dict())


def consent_problem(query: dict) -> bool:
    """Whether Microsoft's error answer means an administrator must approve the app."""
    code = microsoft.aadsts_code(query.get("error_description"))
    return query.get("error") in CONSENT_ERRORS or code in CONSENT_CODES


def redeem(info, payload: dict, query: dict) -> tuple[dict, dict]:
    """Exchange the code and validate the id token; returns (MSAL result, claims).

    Raises ProviderError, TokenInvalid, or ProviderError(kind=<error>) for an error answer.
    Ends any transaction first (reading current_user may have begun one): SQLite's write lock
    must not be held while Microsoft is called.
    """
    db.session.commit()
    flow = payload["flow"]
    result = microsoft.finish_flow(info, flow, query)
    if "error" in result:
        raise microsoft.ProviderError(result.get("error") or "error",
                                      microsoft.aadsts_code(result.get("error_description")),
                                      result.get("error_description") or "")
    if not result.get("id_token"):
        raise microsoft.ProviderError("bad_response", "no id token in the answer")
    claims = microsoft.validate_id_token(info, result["id_token"], microsoft.expected_nonce(flow))
    return result, claims


def refuse_token(exc: microsoft.TokenInvalid, purpose: str):
    """Audit and explain an id token that failed validation."""
    audit.record("sign_in.refused", tenant_id=None, details={"method": "microsoft", "purpose": purpose,
                                                             "reason": f"invalid_token:{exc.reason}"})
    db.session.commit()
    return problem("Microsoft sign-in was refused",
                   "The answer from Microsoft could not be verified, so the portal did not trust it. "
                   "Start again; if it keeps happening, contact your administrator.", detail=exc.reason)


def answer_error(info, query: dict, purpose: str):
    """Explain an error answer from Microsoft (cancelled, approval required, other)."""
    code = microsoft.aadsts_code(query.get("error_description"))
    audit.record("sign_in.refused" if purpose == flows.SIGN_IN else "idp.error", tenant_id=None,
                 details={"method": "microsoft", "purpose": purpose, "reason": query.get("error"),
                          "code": code})
    db.session.commit()
    if consent_problem(query):
        from ..integrations import clouds

        return problem("Approval required",
                       "Microsoft says your administrator must approve this app before you can use it. "
                       "Ask an administrator of your Microsoft organization to grant admin consent "
                       "(the link below), then sign in again.",
                       detail=code, consent_url=clouds.admin_consent_url(info), integration_id=info.id)
    if query.get("error") == "access_denied":
        return problem("Sign-in cancelled", "You cancelled the sign-in at Microsoft. Nothing was changed.")
    return problem("Microsoft sign-in failed", "Microsoft could not sign you in.", detail=code)


def handle_sign_in(info, payload: dict, query: dict):
    """Finish a sign-in: validate, apply the rules, start the session or explain the refusal."""
    if query.get("error"):
        return answer_error(info, query, flows.SIGN_IN)
    try:
        result, claims = redeem(info, payload, query)
        org = None
        if sso.needs_org_info(info, claims["tid"]):
            db.session.commit()
            orgs = microsoft.graph_get(info, result["access_token"], "/v1.0/organization").get("value") or []
            org = orgs[0] if orgs else {}
    except microsoft.TokenInvalid as exc:
        return refuse_token(exc, flows.SIGN_IN)
    except microsoft.ProviderError as exc:
        if exc.kind not in PROVIDER_MESSAGES:
            return answer_error(info, {"error": exc.kind, "error_description": exc.description}, flows.SIGN_IN)
        return provider_problem(exc)
    outcome = sso.sign_in(info, claims, org)
    if not outcome.decision.allowed:
        db.session.commit()
        message = PUBLIC_MESSAGES.get(outcome.decision.reason, "You cannot sign in with Microsoft.")
        if outcome.decision.data.get("auto_activate"):
            message += (" An administrator of your organization must first connect it: sign in with a "
                        "password and use Administration > System > Integrations.")
        return problem("You cannot sign in with Microsoft", message, status=403)
    start_session(outcome.user, "microsoft")
    session["sso_integration_id"] = info.id  # only to offer Microsoft's sign-out later
    db.session.commit()
    return redirect(safe_next(payload.get("context", {}).get("next"), url_for("main.home")))


@bp.route("/auth/microsoft/admin-consent/<int:integration_id>", methods=["POST"])
def microsoft_admin_consent(integration_id: int):
    """From the Approval required page: an administrator grants consent, then signs in."""
    info = snapshot(posted_integration_or_404(integration_id))
    state = flows.save(flows.ADMIN_CONSENT, info.id, None, {"then": flows.SIGN_IN,
                                                             "next": safe_next(request.form.get("next"), "")})
    db.session.commit()
    return redirect(microsoft.admin_consent_url(info, "organizations", state))


def handle_admin_consent(info, payload: dict, query: dict):
    """Admin consent came back with our state: record it, then start a real sign-in."""
    context = payload.get("context") or {}
    if query.get("error"):
        return answer_error(info, query, flows.ADMIN_CONSENT)
    tid = query.get("tenant") or ""
    if query.get("admin_consent") != "True" or not microsoft.GUID.match(tid):
        return problem("Administrator consent was not granted", "Microsoft did not confirm the consent.")
    then = context.get("then") or flows.SIGN_IN
    if then != flows.SIGN_IN and not (current_user.is_authenticated and current_user.id == context.get("user_id")):
        return problem("This connection could not be completed",
                       "Sign in to the portal as the administrator who started the wizard, then start again.")
    audit.record("consent.granted", tenant_id=context.get("tenant_id"), details={"tid": tid, "integration": info.name})
    db.session.commit()
    return RESTARTS[then](info, context)


register_handler(flows.SIGN_IN, handle_sign_in)
register_handler(flows.ADMIN_CONSENT, handle_admin_consent)
register_restart(flows.SIGN_IN, lambda info, context: begin_sign_in(info, None, context.get("next")))
