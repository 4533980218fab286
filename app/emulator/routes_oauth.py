"""Back-channel endpoints: OpenID discovery, signing keys (JWKS) and the token endpoint."""
import base64
import hashlib
import hmac
import time
from urllib.parse import unquote_plus

from flask import Blueprint, Response, jsonify, request

from .common import get_state, http_base, https_base
from .errors import json_error
from .state import ID_TOKEN_TAMPERS
from .tokens import (GRAPH_AUDIENCE, TOKEN_LIFETIME, access_token, client_info, id_token_claims,
                     issuer, sign_id_token)

bp = Blueprint("oauth", __name__)

GRAPH_DEFAULT_SCOPES = {GRAPH_AUDIENCE + "/.default", "00000003-0000-0000-c000-000000000000/.default"}
OIDC_SCOPES = ("openid", "profile", "email")
FAILURE_PAGE = ("<!doctype html><html><head><title>Service unavailable</title></head><body>"
                "<h1>Sorry, the service is temporarily unavailable.</h1></body></html>")


@bp.get("/<tenant>/v2.0/.well-known/openid-configuration")
def discovery(tenant):
    """Entra's per-tenant OpenID configuration, with the authorization endpoint on the front channel."""
    target = get_state().resolve_tenant(tenant)
    if target is None:
        return json_error(400, "invalid_tenant", 90002, tenant=tenant)
    back, front = https_base(), http_base()
    segment = tenant.lower() if target == "alias" else target["tid"]
    # For organizations/common Entra publishes the issuer with a literal {tenantid} placeholder.
    iss = f"{back}/{{tenantid}}/v2.0" if target == "alias" else issuer(back, target["tid"])
    return jsonify({
        "issuer": iss,
        "authorization_endpoint": f"{front}/{segment}/oauth2/v2.0/authorize",
        "token_endpoint": f"{back}/{segment}/oauth2/v2.0/token",
        "jwks_uri": f"{back}/{segment}/discovery/v2.0/keys",
        "end_session_endpoint": f"{front}/{segment}/oauth2/v2.0/logout",
        "userinfo_endpoint": f"{back}/oidc/userinfo",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "name",
                             "preferred_username", "email", "tid", "oid", "ver", "xms_edov"],
        "request_uri_parameter_supported": False,
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "tenant_region_scope": None,
        "cloud_instance_name": "emulator.local",
        "msgraph_host": back.split("://", 1)[1],
    })


@bp.get("/<tenant>/discovery/v2.0/keys")
@bp.get("/<tenant>/discovery/keys")
def jwks(tenant):
    """The signing keys (the same for every tenant, as in Entra)."""
    return jsonify(get_state().keys.jwks())


def _client_credentials():
    """client_id and client_secret from the POST body (as MSAL sends them) or HTTP Basic."""
    client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        # RFC 6749 2.3.1: Basic credentials are form-urlencoded before base64.
        client_id = client_id or unquote_plus(auth.username or "")
        secret = secret or unquote_plus(auth.password or "")
    return client_id, secret


def _failure_mode(state):
    """The answer a test-only failure mode of the token endpoint forces, or None."""
    if state.tamper == "fail_500":
        return Response(FAILURE_PAGE, status=500, mimetype="text/html")
    if state.tamper == "non_json":
        return Response(FAILURE_PAGE, status=200, mimetype="text/html")
    return None


@bp.post("/<tenant>/oauth2/v2.0/token")
def token(tenant):
    """The token endpoint: authorization code (with PKCE and the client secret) and client credentials."""
    state = get_state()
    delay = state.token_delay()
    if delay:
        time.sleep(delay)  # the slow mode: a client's read timeout must fire first
    forced = _failure_mode(state)
    if forced is not None:
        return forced
    grant_type = request.form.get("grant_type")
    if not grant_type:
        return json_error(400, "invalid_request", 900144, parameter="grant_type")
    if grant_type not in ("authorization_code", "client_credentials"):
        return json_error(400, "unsupported_grant_type", 70003, grant_type=grant_type)
    target = state.resolve_tenant(tenant)
    if target is None:
        return json_error(400, "invalid_request", 90002, tenant=tenant)
    client_id, secret = _client_credentials()
    if not client_id:
        return json_error(400, "invalid_request", 900144, parameter="client_id")
    directory = tenant if target == "alias" else target["name"]
    app = state.app(client_id)
    if app is None:
        return json_error(400, "unauthorized_client", 700016, client_id=client_id, directory=directory)
    if grant_type == "client_credentials":
        problem = _client_credentials_problem(state, target, client_id, directory)
        if problem is not None:
            return problem
    if not secret:
        return json_error(401, "invalid_client", 7000218)
    if not hmac.compare_digest(secret.encode(), app["client_secret"].encode()):
        return json_error(401, "invalid_client", 7000215, client_id=app["client_id"])
    if grant_type == "client_credentials":
        return _answer(access_token=access_token(https_base(), state.keys, target, app["client_id"],
                                                 [], int(state.now())))
    return _authorization_code(state, target, app)


def _client_credentials_problem(state, target, client_id, directory):
    """Why a client-credentials request cannot be served, as an error response, or None."""
    if target == "alias":
        return json_error(400, "invalid_request", 50059)
    scope = request.form.get("scope", "")
    if not scope:
        return json_error(400, "invalid_request", 900144, parameter="scope")
    if not scope.endswith("/.default") or " " in scope.strip():
        return json_error(400, "invalid_scope", 1002012, scope=scope)
    if scope not in GRAPH_DEFAULT_SCOPES:
        return json_error(400, "invalid_resource", 500011, resource=scope[:-len("/.default")],
                          directory=directory)
    if state.service_principal(target["tid"], client_id) is None:
        return json_error(400, "unauthorized_client", 700016, client_id=client_id, directory=directory)
    return None


def _answer(**fields):
    """A successful token response."""
    body = dict(token_type="Bearer", expires_in=TOKEN_LIFETIME - 1, ext_expires_in=TOKEN_LIFETIME - 1,
                **fields)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def _pkce_s256(verifier):
    """The S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _authorization_code(state, target, app):
    """Redeem an authorization code for an id token and a Graph access token."""
    form = request.form
    for parameter in ("code", "redirect_uri"):
        if not form.get(parameter):
            return json_error(400, "invalid_request", 900144, parameter=parameter)
    grant, problem = state.grants.redeem_code(form["code"])
    if problem == "unknown" or grant["client_id"].lower() != app["client_id"].lower():
        return json_error(400, "invalid_grant", 70000)
    if problem == "used":
        return json_error(400, "invalid_grant", 54005)
    if problem == "expired":
        return json_error(400, "invalid_grant", 70008)
    if target != "alias" and target["tid"] != grant["tid"]:
        return json_error(400, "invalid_grant", 700005)
    if form["redirect_uri"] != grant["redirect_uri"]:
        return json_error(400, "invalid_client", 500112, redirect_uri=form["redirect_uri"],
                          expected=grant["redirect_uri"])
    if not form.get("code_verifier"):
        return json_error(400, "invalid_request", 900144, parameter="code_verifier")
    if not hmac.compare_digest(_pkce_s256(form["code_verifier"]), grant["code_challenge"]):
        return json_error(400, "invalid_grant", 501481)
    user, org = state.user(grant["oid"]), state.org(grant["tid"])
    if user is None or not user["enabled"]:
        return json_error(400, "invalid_grant", 50057)
    return _user_tokens(state, grant, user, org, app)


def _user_tokens(state, grant, user, org, app):
    """The token response for a signed-in user."""
    now = int(state.now())
    scopes = [s for s in grant["scopes"] if s != "offline_access"]  # no refresh tokens here
    graph_scopes = [s for s in scopes if s not in OIDC_SCOPES] or ["User.Read"]
    fields = {"scope": " ".join(graph_scopes + [s for s in scopes if s in OIDC_SCOPES]),
              "access_token": access_token(https_base(), state.keys, org, app["client_id"],
                                           graph_scopes + [s for s in scopes if s in OIDC_SCOPES],
                                           now, user=user)}
    if "openid" in scopes:
        claims = id_token_claims(https_base(), user, org, app["client_id"], grant.get("nonce"), now,
                                 grant["session_id"], grant["auth_time"])
        tamper = state.tamper if state.tamper in ID_TOKEN_TAMPERS else None
        fields["id_token"] = sign_id_token(claims, state.keys, tamper, _other_tid(state, org["tid"]))
    if request.form.get("client_info") == "1":
        fields["client_info"] = client_info(user)
    return _answer(**fields)


def _other_tid(state, tid):
    """Another organization's tenant id (for the iss_tid_mismatch tamper mode)."""
    return next(o["tid"] for o in state.organizations() if o["tid"] != tid)
