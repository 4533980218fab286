"""Browser entry points: authorize, admin consent and sign-out (front channel)."""
from flask import Blueprint, Response, render_template, request, session

from . import flow
from .common import browser_id, error_page, get_state, send_error_to_client, send_to_client

bp = Blueprint("pages", __name__)
RESPONSE_MODES = ("query", "fragment", "form_post")


def _app_and_redirect(state, tenant, params):
    """Validate tenant, client and redirect URI; return (target, app, None) or (.., .., error page)."""
    target = state.resolve_tenant(tenant)
    if target is None:
        return None, None, error_page(90002, tenant=tenant)
    client_id = params.get("client_id")
    if not client_id:
        return target, None, error_page(900144, parameter="client_id")
    app = state.app(client_id)
    if app is None:
        directory = tenant if target == "alias" else target["name"]
        return target, None, error_page(700016, client_id=client_id, directory=directory)
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri:
        return target, app, error_page(900144, parameter="redirect_uri")
    # Exact, case-sensitive match: an unregistered URI never receives anything, not even an error.
    if redirect_uri not in app["redirect_uris"]:
        return target, app, error_page(50011, redirect_uri=redirect_uri, client_id=app["client_id"])
    return target, app, None


@bp.get("/<tenant>/oauth2/v2.0/authorize")
def authorize(tenant):
    """Start a sign-in: validate the request, then show the account picker (or answer prompt=none)."""
    state, params = get_state(), request.args
    target, app, problem = _app_and_redirect(state, tenant, params)
    if problem is not None:
        return problem
    mode = params.get("response_mode") or "query"
    pending = {"kind": "authorize", "client_id": app["client_id"], "redirect_uri": params["redirect_uri"],
               "response_mode": mode if mode in RESPONSE_MODES else "query", "state": params.get("state"),
               "tid": None if target == "alias" else target["tid"], "nonce": params.get("nonce"),
               "scopes": (params.get("scope") or "").split(), "prompt": params.get("prompt") or "",
               "login_hint": params.get("login_hint") or "", "client_info": params.get("client_info"),
               "code_challenge": params.get("code_challenge")}
    problem = _protocol_problem(params, pending)
    if problem is not None:
        return problem
    if pending["prompt"] == "none":
        return flow.silent(pending)
    return flow.start(pending)


def _protocol_problem(params, pending):
    """Protocol errors that go back to the (now trusted) redirect URI, or None."""
    response_type = params.get("response_type")
    if not response_type:
        return send_error_to_client(pending, "invalid_request", 900144, parameter="response_type")
    if response_type != "code":
        return send_error_to_client(pending, "unsupported_response_type", 700054,
                                    response_type=response_type)
    if not pending["scopes"]:
        return send_error_to_client(pending, "invalid_request", 900144, parameter="scope")
    if not pending["code_challenge"]:
        return send_error_to_client(pending, "invalid_request", 9002325)
    if params.get("code_challenge_method") != "S256":  # plain (or the default, plain) is refused
        return send_error_to_client(pending, "invalid_request", 50149)
    return None


@bp.get("/<tenant>/adminconsent")
@bp.get("/<tenant>/v2.0/adminconsent")
def admin_consent(tenant):
    """Tenant-wide admin consent: an admin picks their account and accepts for the organization."""
    state, params = get_state(), request.args
    target, app, problem = _app_and_redirect(state, tenant, params)
    if problem is not None:
        return problem
    pending = {"kind": "adminconsent", "client_id": app["client_id"], "redirect_uri": params["redirect_uri"],
               "response_mode": "query", "state": params.get("state"), "scope": params.get("scope"),
               "tid": None if target == "alias" else target["tid"], "prompt": "select_account",
               "login_hint": params.get("login_hint") or ""}
    return flow.start(pending)


@bp.get("/<tenant>/oauth2/v2.0/logout")
def logout(tenant):
    """Sign the browser out of the emulator; return to post_logout_redirect_uri if it is registered."""
    state = get_state()
    target_uri = request.args.get("post_logout_redirect_uri")
    session.pop("accounts", None)
    browser_id()
    client_id = request.args.get("client_id")
    apps = [state.app(client_id)] if client_id else state.apps()
    if target_uri and any(app and target_uri in app["redirect_uris"] for app in apps):
        return send_to_client(target_uri, {}, "query", request.args.get("state"))
    return Response(render_template("signed_out.html"), mimetype="text/html")
