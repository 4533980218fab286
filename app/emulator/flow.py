"""The interactive part of sign-in and admin consent: account picker, permissions, answers to the app."""
from flask import Blueprint, Response, render_template, request, url_for

from .common import (browser_id, error_page, get_state, remember_sign_in, send_error_to_client,
                     send_to_client, session_state, signed_in_accounts)
from .state import is_admin
from .tokens import client_info, preferred_username

bp = Blueprint("flow", __name__, url_prefix="/_emulator")
PERMISSIONS = ("Sign you in and read your profile", "Maintain access to data you have given it access to",
               "View your basic profile")
ADMIN_PERMISSIONS = ("Sign in and read user profile", "Maintain access to data you have given it access to",
                     "View users' basic profile")


def _eligible(state, pending):
    """Accounts that may answer this request: the organization's for a tenant id, else everyone's."""
    return state.users(pending["tid"])


def _matches_hint(user, hint):
    """Whether a login_hint names this account (by UPN, mail or sign-in name)."""
    hint = (hint or "").lower()
    return bool(hint) and hint in {user["upn"].lower(), (user.get("mail") or "").lower(),
                                   preferred_username(user).lower()}


def start(pending):
    """Remember a validated request for this browser and show the picker (or skip it for a known hint)."""
    state = get_state()
    request_id = state.grants.add_request(pending, browser_id())
    hinted = [u for u in _eligible(state, pending) if _matches_hint(u, pending.get("login_hint"))]
    # Like Entra: a login_hint naming an account already signed in here skips the picker, unless the
    # app asked to choose again.
    if (len(hinted) == 1 and hinted[0]["oid"] in signed_in_accounts() and pending["kind"] == "authorize"
            and pending["prompt"] not in ("select_account", "login", "consent")):
        return _signed_in(request_id, hinted[0])
    return _picker(request_id, pending, hinted[0]["oid"] if hinted else None)


def _picker(request_id, pending, preselected):
    """The 'Pick an account' page, grouped by organization when the tenant is organizations/common."""
    state = get_state()
    users = _eligible(state, pending)
    groups = [{"org": org, "users": [u for u in users if u["tid"] == org["tid"]]}
              for org in state.organizations()]
    groups = [g for g in groups if g["users"]]
    body = render_template("picker.html", request_id=request_id, groups=groups, app=state.app(
        pending["client_id"]), grouped=pending["tid"] is None, preselected=preselected,
        signed_in=signed_in_accounts(), admin_consent=pending["kind"] == "adminconsent")
    return Response(body, mimetype="text/html")


def _pending(request_id):
    """The pending request for this browser, or None."""
    return get_state().grants.get_request(request_id, browser_id())


def _gone():
    """The page for an unknown, expired or foreign request id."""
    return error_page(900144, parameter="request", title="This sign-in request is no longer valid.")


@bp.get("/pick")
def show_picker():
    """Show the picker again for a pending request (the 'sign in with another account' link)."""
    request_id = request.args.get("request", "")
    entry = _pending(request_id)
    if entry is None:
        return _gone()
    return _picker(request_id, entry["params"], None)


@bp.post("/pick")
def pick():
    """An account was picked: no password here, picking signs in (unless the account is disabled)."""
    state, request_id = get_state(), request.form.get("request", "")
    entry = _pending(request_id)
    if entry is None:
        return _gone()
    user = state.user(request.form.get("account", ""))
    eligible = {u["oid"] for u in _eligible(state, entry["params"])}
    if user is None or user["oid"] not in eligible:
        return _picker(request_id, entry["params"], None)
    return _signed_in(request_id, user)


def _signed_in(request_id, user):
    """Continue after the account is known: locked page, consent pages, or straight back to the app."""
    state = get_state()
    pending = state.grants.get_request(request_id, browser_id())["params"]
    extra = {"admin_consent": "False"} if pending["kind"] == "adminconsent" else None
    if not user["enabled"]:
        state.grants.update_request(request_id, answer=("access_denied", 50057, extra))
        back = url_for("flow.return_to_app", request=request_id)
        return error_page(50057, status=200, title="Your account has been locked", back_url=back)
    remember_sign_in(user["oid"])
    state.grants.update_request(request_id, oid=user["oid"])
    org, app = state.org(user["tid"]), state.app(pending["client_id"])
    if pending["kind"] == "adminconsent":
        if not is_admin(user):
            state.grants.drop_request(request_id)
            return send_error_to_client(pending, "access_denied", 90094, extra)
        return _consent_page(request_id, user, org, app, admin_consent=True)
    consented = state.has_consent(user["tid"], app["client_id"], user["oid"])
    if consented and pending["prompt"] != "consent":
        return _issue_code(request_id, pending, user)
    if not is_admin(user) and not org["user_consent_allowed"]:
        if consented:
            return _issue_code(request_id, pending, user)
        state.grants.update_request(request_id, answer=("consent_required", 90094, None))
        body = render_template("approval.html", app=app, user=user, permissions=PERMISSIONS,
                               back_url=url_for("flow.return_to_app", request=request_id),
                               picker_url=url_for("flow.show_picker", request=request_id))
        return Response(body, mimetype="text/html")
    return _consent_page(request_id, user, org, app, admin_consent=False)


def _consent_page(request_id, user, org, app, admin_consent):
    """The 'Permissions requested' page (for one user, or for the whole organization)."""
    body = render_template("consent.html", request_id=request_id, user=user, org=org, app=app,
                           admin_consent=admin_consent, is_admin=is_admin(user),
                           prechecked=not org["user_consent_allowed"],
                           permissions=ADMIN_PERMISSIONS if admin_consent else PERMISSIONS)
    return Response(body, mimetype="text/html")


@bp.post("/consent")
def consent():
    """Accept or Cancel on the permissions page."""
    state, request_id = get_state(), request.form.get("request", "")
    entry = _pending(request_id)
    if entry is None or not entry.get("oid"):
        return _gone()
    pending, user = entry["params"], state.user(entry["oid"])
    if user is None or not user["enabled"]:
        return _signed_in(request_id, user) if user else _gone()
    if pending["kind"] == "adminconsent":
        return _answer_admin_consent(request_id, pending, user)
    if request.form.get("decision") != "accept":
        state.grants.drop_request(request_id)
        return send_error_to_client(pending, "access_denied", 65004)
    if request.form.get("on_behalf") == "1" and is_admin(user):
        state.grant_admin_consent(user["tid"], pending["client_id"])
    elif is_admin(user) or state.org(user["tid"])["user_consent_allowed"]:
        state.grant_user_consent(user["oid"], pending["client_id"])
    else:
        return _signed_in(request_id, user)  # a forged form cannot bypass admin approval
    return _issue_code(request_id, pending, user)


def _answer_admin_consent(request_id, pending, user):
    """Accept records tenant-wide consent and says so to the app; Cancel (or a non-admin) is refused."""
    state = get_state()
    state.grants.drop_request(request_id)
    refused = {"admin_consent": "False"}
    if not is_admin(user):
        return send_error_to_client(pending, "access_denied", 90094, refused)
    if request.form.get("decision") != "accept":
        return send_error_to_client(pending, "access_denied", 65004, refused)
    state.grant_admin_consent(user["tid"], pending["client_id"])
    answer = {"admin_consent": "True", "tenant": user["tid"], "scope": pending.get("scope")}
    return send_to_client(pending["redirect_uri"], answer, "query", pending.get("state"))


@bp.get("/return")
def return_to_app():
    """'Return to the application': send the error decided on the page the person just saw."""
    request_id = request.args.get("request", "")
    entry = _pending(request_id)
    if entry is None or "answer" not in entry:
        return _gone()
    get_state().grants.drop_request(request_id)
    error, code, extra = entry["answer"]
    values = {"client_id": entry["params"]["client_id"]}
    return send_error_to_client(entry["params"], error, code, extra, **values)


def _issue_code(request_id, pending, user):
    """Issue a single-use code and send it to the app with state, session_state and client_info."""
    state = get_state()
    code = state.grants.issue_code({
        "client_id": pending["client_id"], "redirect_uri": pending["redirect_uri"], "oid": user["oid"],
        "tid": user["tid"], "nonce": pending.get("nonce"), "code_challenge": pending["code_challenge"],
        "scopes": pending["scopes"], "auth_time": int(state.now()), "session_id": session_state()})
    if request_id:
        state.grants.drop_request(request_id)
    params = {"code": code, "session_state": session_state(),
              "client_info": client_info(user) if pending.get("client_info") == "1" else None}
    return send_to_client(pending["redirect_uri"], params, pending["response_mode"], pending.get("state"))


def silent(pending):
    """prompt=none: never show a page; answer from this browser's signed-in accounts or with an error."""
    state = get_state()
    eligible = {u["oid"] for u in _eligible(state, pending)}
    accounts = [state.user(oid) for oid in signed_in_accounts() if oid in eligible]
    accounts = [u for u in accounts if u and (not pending["login_hint"]
                                              or _matches_hint(u, pending["login_hint"]))]
    if not accounts:
        return send_error_to_client(pending, "login_required", 50058)
    if len(accounts) > 1:
        return send_error_to_client(pending, "interaction_required", 16000)
    user = accounts[0]
    if not user["enabled"]:
        return send_error_to_client(pending, "interaction_required", 50057)
    if not state.has_consent(user["tid"], pending["client_id"], user["oid"]):
        app = state.app(pending["client_id"])
        return send_error_to_client(pending, "consent_required", 65001, client_id=app["client_id"],
                                    app_name=app["name"])
    return _issue_code(None, pending, user)
