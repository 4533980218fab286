"""The slice of Microsoft Graph the portal reads: /v1.0/me, /v1.0/organization, and OIDC userinfo."""
import datetime
import uuid

import jwt
from flask import Blueprint, g, jsonify, request

from .common import get_state, https_base
from .tokens import GRAPH_AUDIENCE, preferred_username

bp = Blueprint("graph", __name__)
INVALID_TOKEN = "InvalidAuthenticationToken"


def graph_error(status, code, message):
    """An error in Graph's shape (which differs from the token endpoint's)."""
    response = jsonify({"error": {"code": code, "message": message, "innerError": {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()),
        "client-request-id": request.headers.get("client-request-id") or str(uuid.uuid4())}}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="", error="invalid_token"'
    return response


@bp.before_request
def require_token():
    """Every Graph call needs a valid, unexpired bearer token the emulator issued for Graph."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return graph_error(401, INVALID_TOKEN, "Access token is empty.")
    try:
        g.claims = get_state().keys.verify(token.strip(), GRAPH_AUDIENCE)
    except jwt.ExpiredSignatureError:
        return graph_error(401, INVALID_TOKEN, "Lifetime validation failed, the token is expired.")
    except jwt.InvalidAudienceError:
        return graph_error(401, INVALID_TOKEN, "Access token validation failure. Invalid audience.")
    except jwt.InvalidTokenError:
        return graph_error(401, INVALID_TOKEN, "Access token validation failure.")
    return None


def _organization_json(org):
    """One organization as Graph lists it."""
    domains = [{"name": d["name"], "isDefault": d["isDefault"], "isInitial": d["isInitial"],
                "type": d.get("type", "Managed"), "capabilities": "Email, OfficeCommunicationsOnline"}
               for d in org["verified_domains"]]
    return {"id": org["tid"], "displayName": org["name"], "tenantType": "AAD", "verifiedDomains": domains}


@bp.get("/v1.0/organization")
def organization():
    """The signed-in user's (or the app's) organization with its verified domains."""
    org = get_state().org(g.claims["tid"])
    if org is None:
        return graph_error(404, "Request_ResourceNotFound", "The organization does not exist.")
    return jsonify({"@odata.context": f"{https_base()}/v1.0/$metadata#organization",
                    "value": [_organization_json(org)]})


@bp.get("/v1.0/me")
def me():
    """The signed-in user's profile (delegated tokens only, as in Graph)."""
    if "oid" not in g.claims:
        return graph_error(400, "BadRequest", "/me request is only valid with delegated authentication flow.")
    user = get_state().user(g.claims["oid"])
    if user is None:
        return graph_error(404, "Request_ResourceNotFound", "The user does not exist.")
    first, _, last = user["display_name"].partition(" ")
    return jsonify({"@odata.context": f"{https_base()}/v1.0/$metadata#users/$entity",
                    "id": user["oid"], "displayName": user["display_name"], "givenName": first,
                    "surname": last or None, "userPrincipalName": user["upn"],
                    "mail": user.get("mail") or None, "jobTitle": user.get("job_title") or None,
                    "businessPhones": [], "mobilePhone": None,
                    "officeLocation": None, "preferredLanguage": "en-US"})


@bp.get("/oidc/userinfo")
def userinfo():
    """OpenID Connect userinfo for a delegated token."""
    if "oid" not in g.claims:
        return graph_error(401, INVALID_TOKEN, "Access token validation failure.")
    user = get_state().user(g.claims["oid"])
    if user is None:
        return graph_error(404, "Request_ResourceNotFound", "The user does not exist.")
    first, _, last = user["display_name"].partition(" ")
    body = {"sub": g.claims["sub"], "name": user["display_name"], "given_name": first, "family_name": last,
            "preferred_username": preferred_username(user)}
    if user.get("mail"):
        body["email"] = user["mail"]
    return jsonify(body)
