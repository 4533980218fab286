"""Pytest plugin: the Entra ID emulator on ephemeral ports, and MSAL clients built the portal's way.

Load it with `pytest_plugins = ["tests.emulator_fixtures"]` or `-p tests.emulator_fixtures`.
"""
import msal
import pytest

from app.emulator import EmulatorServer
from app.emulator.testing import EmulatorBrowser, TimeoutSession

# Ids from app/emulator/seed.json.
CONTOSO_TID = "2f870a33-6c74-4f7a-b649-fa528de82d21"
FABRIKAM_TID = "528de123-6282-41be-be33-d11060dc9773"
ATTACKER_TID = "2f33a813-5c19-4522-85dc-cb5301079e2f"
CLIENT_ID = "91e5f11a-5f2c-4130-b5ab-256dd81b0423"
CLIENT_SECRET = "Kx27Q~emulator-demo-secret.Call-Recording"
# Tests never follow the final redirect, so nothing needs to listen here.
TEST_REDIRECT_URI = "http://127.0.0.1:5999/auth/microsoft/callback"


@pytest.fixture(scope="session")
def emulator(tmp_path_factory):
    """The emulator, started once per test session in a temporary instance folder."""
    server = EmulatorServer(tmp_path_factory.mktemp("entra-emulator"), log_requests=False).start()
    server.state.add_redirect_uri(CLIENT_ID, TEST_REDIRECT_URI)
    yield server
    server.stop()


def _clean(state):
    """Seed directory, no tamper mode, no delay, real clock."""
    state.reset()
    state.set_tamper(None)
    state.set_delay(0)
    state.set_clock(None)


@pytest.fixture
def fresh_emulator(emulator):
    """The session's emulator with its directory back to the seed and every test switch off."""
    _clean(emulator.state)
    yield emulator
    _clean(emulator.state)  # a failing test must not leave a tamper mode or a delay behind


def make_http_session(emulator, timeout=10):
    """A requests session the way the portal builds one: no proxies from env, the emulator's CA, a timeout."""
    return TimeoutSession(timeout=timeout, verify=emulator.ca_bundle)


def make_msal_app(emulator, tenant="organizations", client_id=CLIENT_ID, secret=CLIENT_SECRET, timeout=10):
    """A ConfidentialClientApplication configured exactly as the portal configures it."""
    return msal.ConfidentialClientApplication(
        client_id, client_credential=secret, authority=emulator.authority(tenant),
        instance_discovery=False, azure_region=False, http_client=make_http_session(emulator, timeout),
        http_cache={})


def make_browser(emulator):
    """A scripted browser for the emulator's pages (stops at the redirect back to the app)."""
    return EmulatorBrowser([emulator.http_base, emulator.https_base])
