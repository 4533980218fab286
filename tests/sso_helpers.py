"""Portal + emulator harness: an integration pointed at the emulator, and scripted round trips."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import pytest

from app import crypto
from app.extensions import db
from app.models import CONN_CONNECTED, Connection, Integration

from .emulator_fixtures import CLIENT_ID, CLIENT_SECRET, CONTOSO_TID, TEST_REDIRECT_URI, make_browser

CONTOSO_DOMAINS = ["contoso.com", "contoso.onmicrosoft.com"]


def make_integration(emulator, **fields) -> Integration:
    """The system-wide Microsoft integration, pointed at the emulator (custom authority + CA)."""
    values = dict(name="Microsoft", client_id=CLIENT_ID, cloud="custom", authority_url=emulator.https_base,
                  ca_bundle=str(emulator.ca_bundle),
                  app_domain=TEST_REDIRECT_URI.rsplit("/auth/", 1)[0],
                  description="Log in to the application with your Microsoft account credentials")
    values.update(fields)
    integration = Integration(**values)
    integration.client_secret_enc = crypto.encrypt(CLIENT_SECRET)
    db.session.add(integration)
    db.session.commit()
    return integration


def connect(integration, tenant, tid=CONTOSO_TID, *, auto_activation=True, status=CONN_CONNECTED,
            domains=None, name="Contoso") -> Connection:
    """A connection as the wizard leaves it."""
    connection = Connection(integration_id=integration.id, tenant_id=tenant.id, org_tid=tid, org_name=name,
                            verified_domains=domains if domains is not None else CONTOSO_DOMAINS,
                            auto_activation=auto_activation, status=status,
                            authorized_by_name="Megan Bowen", authorized_by_email="megan@contoso.com")
    db.session.add(connection)
    db.session.commit()
    return connection


@dataclass
class RoundTrip:
    """What happened: the emulator's browser and the portal's answer to the callback."""

    browser: object
    response: object

    @property
    def text(self) -> str:
        return self.response.get_data(as_text=True)


def microsoft_sign_in(client, emulator, integration, account: str, *, accept=True, on_behalf=None,
                      start_data=None) -> RoundTrip:
    """Press Sign in with Microsoft, pick the account, consent if asked, deliver the callback."""
    start = client.post(f"/auth/microsoft/start/{integration.id}", data=start_data or {})
    assert start.status_code == 302, start.get_data(as_text=True)[:800]
    return drive(client, emulator, start.headers["Location"], account, accept=accept, on_behalf=on_behalf)


def drive(client, emulator, auth_uri: str, account: str | None, *, accept=True, on_behalf=None) -> RoundTrip:
    """Walk the emulator's pages from auth_uri and hand its answer to the portal's callback."""
    browser = authorize(emulator, auth_uri, account, accept=accept, on_behalf=on_behalf)
    return RoundTrip(browser, callback(client, browser.redirect_url))


def authorize(emulator, auth_uri: str, account: str | None, *, accept=True, on_behalf=None):
    """Walk the emulator's pages (pick, consent) and stop at its answer, not yet delivered."""
    browser = make_browser(emulator)
    browser.open(auth_uri)
    if account and not browser.done:
        browser.pick(account)
    if not browser.done and "Permissions requested" in browser.text:
        browser.accept(on_behalf=on_behalf) if accept else browser.cancel()
    assert browser.done, browser.text[:1500]
    return browser


def started(client, integration) -> str:
    """Press Sign in with Microsoft; returns where the portal sends the browser."""
    start = client.post(f"/auth/microsoft/start/{integration.id}")
    assert start.status_code == 302, start.get_data(as_text=True)[:800]
    return start.headers["Location"]


def callback(client, url: str):
    """Deliver a redirect to the portal's callback (the test client stands in for the browser)."""
    parts = urlsplit(url)
    assert parts.path == "/auth/microsoft/callback", url
    return client.get(parts.path, query_string=dict(parse_qsl(parts.query, keep_blank_values=True)))


@pytest.fixture
def sso(app, fresh_emulator, people):
    """The emulator (fresh), an integration pointed at it, and the people of tests/conftest.py.

    The portal's caches (discovery, signing keys, MSAL's HTTP cache) start empty, as in a new worker.
    """
    from app.auth import microsoft

    microsoft._DOC_CACHE.clear()
    microsoft._HTTP_CACHE.clear()  # MSAL replays recent error answers from it for a while
    integration = make_integration(fresh_emulator)
    return {"emulator": fresh_emulator, "integration": integration, **people}
