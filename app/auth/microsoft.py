"""Every exchange with Microsoft (or the emulator): the only module that imports msal.

Framework-free: takes an integration row and plain values, returns plain dicts or raises
ProviderError / TokenInvalid with a stable kind, so callers show a clear page and never a 500.
A ConfidentialClientApplication is built per call (no token cache shared between users).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from typing import Any, Optional

import jwt
import msal
import requests
from flask import current_app

from .. import crypto
from ..integrations import clouds

SCOPES = ["User.Read"]  # openid, profile and offline_access are added by MSAL itself
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_SKEW_SECONDS = 300
_CACHE_SECONDS = 3600

# Caches of public documents only (discovery, signing keys); any worker can refetch them.
_HTTP_CACHE: dict = {}
_DOC_CACHE: dict[str, tuple[float, dict]] = {}
_DOC_LOCK = threading.Lock()


class ProviderError(Exception):
    """The identity provider could not be used: kind is timeout, unreachable, server_error,
    bad_response, config or a provider error code (e.g. invalid_client)."""

    def __init__(self, kind: str, detail: str = "", description: str = ""):
        super().__init__(f"{kind}: {detail or description}")
        self.kind = kind
        self.detail = detail
        self.description = description


class TokenInvalid(Exception):
    """An id token that must not be trusted; reason is a stable code for the audit log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _TimeoutSession(requests.Session):
    """A requests session whose every call has a timeout and ignores proxy/CA environment."""

    def __init__(self, timeout: float, verify: Any):
        super().__init__()
        # REQUESTS_CA_BUNDLE and proxies from the environment would override `verify`.
        self.trust_env = False
        self.verify = verify
        self._timeout = timeout

    def request(self, method, url, **kwargs):  # noqa: D401 - requests' signature
        """Send with the default timeout unless one is given."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().request(method, url, **kwargs)


def http_session(integration: Any) -> requests.Session:
    """A session trusting the integration's CA bundle (custom authorities) or the system CAs."""
    verify: Any = True
    if integration.cloud == "custom" and integration.ca_bundle:
        verify = integration.ca_bundle
    return _TimeoutSession(float(current_app.config["IDP_TIMEOUT_SECONDS"]), verify)


def _guard(call, *args, **kwargs):
    """Run a call to the provider, turning its many failure shapes into ProviderError."""
    try:
        return call(*args, **kwargs)
    except requests.Timeout as exc:
        raise ProviderError("timeout", type(exc).__name__) from None
    except requests.exceptions.SSLError:
        raise ProviderError("unreachable", "TLS certificate not trusted") from None
    except requests.RequestException as exc:
        raise ProviderError("unreachable", type(exc).__name__) from None
    except msal.exceptions.MsalServiceError as exc:
        raise ProviderError("server_error", getattr(exc, "error", "") or "service error") from None
    except json.JSONDecodeError:
        raise ProviderError("bad_response", "the answer was not JSON") from None
    except (ValueError, KeyError) as exc:
        raise ProviderError("bad_response", str(exc)[:200]) from None


def build_app(integration: Any, tenant: str = "organizations") -> msal.ConfidentialClientApplication:
    """A fresh ConfidentialClientApplication for this integration and tenant."""
    secret = crypto.decrypt(integration.client_secret_enc)
    if not secret:
        raise ProviderError("config", "the client secret is missing or unreadable")
    try:
        authority = clouds.authority(integration, tenant)
    except clouds.CloudError as exc:
        raise ProviderError("config", str(exc)) from None
    return _guard(
        msal.ConfidentialClientApplication,
        integration.client_id,
        client_credential=secret,
        authority=authority,
        instance_discovery=False,
        azure_region=False,
        http_client=http_session(integration),
        http_cache=_HTTP_CACHE,
    )


def start_flow(integration: Any, *, prompt: Optional[str] = None, login_hint: Optional[str] = None,
               domain_hint: Optional[str] = None) -> dict:
    """Begin an authorization-code flow (state, nonce, PKCE); returns MSAL's flow dict."""
    app = build_app(integration)
    return _guard(app.initiate_auth_code_flow, SCOPES, redirect_uri=clouds.redirect_uri(integration),
                  prompt=prompt, login_hint=login_hint or None, domain_hint=domain_hint or None)


def finish_flow(integration: Any, flow: dict, query: dict) -> dict:
    """Redeem the code of a callback; returns MSAL's result (may hold error/error_description)."""
    app = build_app(integration)
    try:
        return _guard(app.acquire_token_by_auth_code_flow, flow, query, scopes=SCOPES)
    except RuntimeError:
        # MSAL compares the nonce itself and raises on a mismatch.
        raise TokenInvalid("nonce") from None


def expected_nonce(flow: dict) -> str:
    """The nonce value MSAL sent (a SHA-256 of the flow's nonce) that the id token must echo."""
    return hashlib.sha256(flow["nonce"].encode("ascii")).hexdigest()


def _get_json(integration: Any, url: str, *, fresh: bool = False) -> dict:
    """A public JSON document (discovery, JWKS), cached for an hour per URL."""
    with _DOC_LOCK:
        hit = _DOC_CACHE.get(url)
    if hit and not fresh and time.monotonic() - hit[0] < _CACHE_SECONDS:
        return hit[1]
    response = _guard(http_session(integration).get, url)
    if response.status_code >= 400:
        raise ProviderError("server_error", f"HTTP {response.status_code} from {url}")
    document = _guard(response.json)
    with _DOC_LOCK:
        _DOC_CACHE[url] = (time.monotonic(), document)
    return document


def discovery(integration: Any, tenant: str = "organizations") -> dict:
    """The OpenID configuration of the authority."""
    return _get_json(integration, f"{clouds.authority(integration, tenant)}/v2.0/.well-known/openid-configuration")


def _signing_key(integration: Any, jwks_uri: str, kid: str) -> jwt.PyJWK:
    """The JWKS key with this kid; the set is fetched again once when the kid is unknown."""
    for fresh in (False, True):
        for key in _get_json(integration, jwks_uri, fresh=fresh).get("keys", []):
            if key.get("kid") == kid:
                return jwt.PyJWK(key, algorithm="RS256")
    raise TokenInvalid("unknown_kid")


def validate_id_token(integration: Any, id_token: str, nonce: str) -> dict:
    """Validate signature, alg, aud, iss (with tid), exp/iat/nbf and nonce; return the claims."""
    try:
        header = jwt.get_unverified_header(id_token)
        unverified = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise TokenInvalid("malformed") from None
    if header.get("alg") != "RS256":
        raise TokenInvalid("alg")
    tid = str(unverified.get("tid") or "")
    if not GUID.match(tid):
        raise TokenInvalid("tid")
    meta = discovery(integration)
    key = _signing_key(integration, meta["jwks_uri"], header.get("kid") or "")
    issuer = meta["issuer"].replace("{tenantid}", tid)
    try:
        claims = jwt.decode(
            id_token, key=key, algorithms=["RS256"], audience=integration.client_id, issuer=issuer,
            leeway=MAX_SKEW_SECONDS, options={"require": ["exp", "iat", "iss", "aud", "sub", "tid", "oid"]},
        )
    except jwt.InvalidSignatureError:
        raise TokenInvalid("signature") from None
    except jwt.InvalidAudienceError:
        raise TokenInvalid("audience") from None
    except jwt.InvalidIssuerError:
        raise TokenInvalid("issuer") from None
    except jwt.ExpiredSignatureError:
        raise TokenInvalid("expired") from None
    except jwt.ImmatureSignatureError:
        raise TokenInvalid("not_yet_valid") from None
    except jwt.PyJWTError as exc:
        raise TokenInvalid(type(exc).__name__) from None
    if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
        raise TokenInvalid("nonce")
    return claims


def graph_get(integration: Any, access_token: str, path: str) -> dict:
    """GET a Microsoft Graph resource with a delegated access token."""
    response = _guard(http_session(integration).get, f"{clouds.graph_base(integration)}{path}",
                      headers={"Authorization": f"Bearer {access_token}"})
    if response.status_code >= 400:
        raise ProviderError("graph_error", f"HTTP {response.status_code} from Graph {path}")
    return _guard(response.json)


def client_credentials(integration: Any, tid: str) -> dict:
    """An app-only token for one organization: proves the secret works and consent stands."""
    app = build_app(integration, tid)
    return _guard(app.acquire_token_for_client, scopes=[clouds.graph_scope(integration)])


def logout_url(integration: Any, post_logout_redirect: str) -> str:
    """Microsoft's sign-out page (discovery's end_session_endpoint), returning to the portal."""
    from urllib.parse import urlencode

    try:
        endpoint = discovery(integration).get("end_session_endpoint")
    except ProviderError:
        endpoint = None
    endpoint = endpoint or f"{clouds.authority(integration, 'organizations')}/oauth2/v2.0/logout"
    return f"{endpoint}?{urlencode({'post_logout_redirect_uri': post_logout_redirect})}"


def admin_consent_url(integration: Any, tenant: str = "organizations", state: str | None = None) -> str:
    """The admin-consent page on the provider's browser-facing host.

    That host is where discovery's authorization_endpoint points (the emulator serves its browser
    pages on a plain-http loopback port); without discovery, the authority's own host.
    """
    url = clouds.admin_consent_url(integration, tenant, state)
    try:
        front = discovery(integration).get("authorization_endpoint") or ""
    except ProviderError:
        return url
    suffix = "/organizations/oauth2/v2.0/authorize"
    if not front.endswith(suffix):
        return url
    return front[: -len(suffix)] + url[len(clouds.authority_base(integration)):]


def aadsts_code(description: str | None) -> str:
    """The AADSTS code at the start of an error description ("AADSTS65001: ..."), or ""."""
    match = re.match(r"\s*(AADSTS\d+)", description or "")
    return match.group(1) if match else ""
