"""Where an integration's identity provider lives: authority, Graph, redirect and consent URLs.

The one place that knows the national clouds and the custom authority (the emulator, private
test identity providers), so the wizard, sign-in and the Settings tab agree.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

CLOUD_LABELS = {
    "public": "Azure public",
    "usgov": "Azure US Government",
    "china": "Azure China",
    "custom": "Custom authority",
}
AUTHORITY_HOSTS = {
    "public": "https://login.microsoftonline.com",
    "usgov": "https://login.microsoftonline.us",
    "china": "https://login.chinacloudapi.cn",
}
GRAPH_HOSTS = {
    "public": "https://graph.microsoft.com",
    "usgov": "https://graph.microsoft.us",
    "china": "https://microsoftgraph.chinacloudapi.cn",
}
# Tenant segments that mean "any organization" rather than one directory.
ALIASES = ("organizations", "common")
CALLBACK_PATH = "/auth/microsoft/callback"


class CloudError(ValueError):
    """A custom authority or Graph URL that cannot be used; the message is for the form."""


def normalise_authority(raw: str) -> str:
    """Validate a custom authority URL and return its base (https://host[:port][/path]).

    A trailing tenant segment (organizations, common) is dropped: the portal adds the tenant.
    MSAL accepts only https authorities.
    """
    value = (raw or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise CloudError("Enter the authority as an https:// URL, for example https://login.example.com.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise CloudError("The authority URL cannot contain a query, a fragment or credentials.")
    path = parts.path.rstrip("/")
    segments = [s for s in path.split("/") if s]
    if segments and segments[-1].lower() in ALIASES + ("v2.0",):
        segments = segments[:-1]
    base = f"https://{parts.netloc}"
    return base + ("/" + "/".join(segments) if segments else "")


def normalise_graph(raw: str) -> str:
    """Validate a Graph endpoint override (https, no query)."""
    value = (raw or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise CloudError("Enter the Graph endpoint as an https:// URL without a query.")
    return value


def authority_base(integration: Any) -> str:
    """https://host of the integration's identity provider (no tenant segment)."""
    if integration.cloud == "custom":
        return normalise_authority(integration.authority_url or "")
    return AUTHORITY_HOSTS[integration.cloud]


def authority(integration: Any, tenant: str = "organizations") -> str:
    """The MSAL authority for a tenant (an organization id, organizations or common)."""
    return f"{authority_base(integration)}/{tenant}"


def graph_base(integration: Any) -> str:
    """Base URL of Microsoft Graph for this integration (custom: the override or the authority)."""
    if integration.cloud == "custom":
        return (integration.graph_endpoint or "").rstrip("/") or authority_base(integration)
    return (integration.graph_endpoint or "").rstrip("/") or GRAPH_HOSTS[integration.cloud]


def graph_scope(integration: Any) -> str:
    """The .default scope for client credentials: Graph's resource id in that cloud.

    A custom authority (the emulator, a private test provider) stands in for the public cloud, so
    it is asked for the public Graph resource, wherever its Graph endpoint lives.
    """
    return f"{GRAPH_HOSTS.get(integration.cloud, GRAPH_HOSTS['public'])}/.default"


def app_origin(app_domain: str) -> str:
    """The portal's public origin from the app domain (a loopback host may carry http://)."""
    value = (app_domain or "").strip().rstrip("/")
    if value.startswith(("http://", "https://")):
        return value
    return f"https://{value}"


def redirect_uri(integration: Any) -> str:
    """The one redirect URI to register in Entra ID."""
    return app_origin(integration.app_domain) + CALLBACK_PATH


def admin_consent_url(integration: Any, tenant: str = "organizations", state: str | None = None) -> str:
    """The tenant-wide admin-consent link for an organization (or any, with organizations)."""
    query = {"client_id": integration.client_id, "redirect_uri": redirect_uri(integration)}
    if state:
        query["state"] = state
    return f"{authority(integration, tenant)}/adminconsent?{urlencode(query)}"


def app_domain_error(raw: str) -> str | None:
    """Why an app domain is unusable, or None. Plain http only for loopback (as Entra allows)."""
    value = (raw or "").strip().rstrip("/")
    if not value:
        return "Enter the portal's public host name, for example portal.example.com."
    parts = urlsplit(value if "://" in value else f"https://{value}")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        return "Enter a host name (and port), for example portal.example.com, without a path."
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return "Plain http is allowed only for localhost or 127.0.0.1; use https for other hosts."
    return None
