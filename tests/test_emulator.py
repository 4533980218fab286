"""The Entra ID emulator, driven by MSAL's real ConfidentialClientApplication over HTTPS."""
import json
import ssl
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import jwt
import msal
import pytest
import requests
from click.testing import CliRunner
from msal.exceptions import MsalServiceError

from app.emulator import EmulatorServer, EmulatorState
from app.emulator.cli import emulator_cli
from app.emulator.server import serve_forever
from tests.emulator_fixtures import (ATTACKER_TID, CLIENT_ID, CLIENT_SECRET, CONTOSO_TID, FABRIKAM_TID,
                                     TEST_REDIRECT_URI, make_browser, make_http_session, make_msal_app)

pytestmark = pytest.mark.filterwarnings("ignore:response_mode='form_post' is recommended")

ALEX = "6ef26ce6-58e8-47e8-9e20-8f1916a478e0"
LYNNE = "e2c3a46b-d802-439c-8c6b-785d400ce18f"
MALLORY = "8607225f-b857-4fee-b0c7-ab9a21d4ba6a"


# -- helpers -----------------------------------------------------------------------------------
def start_flow(emulator, tenant="organizations", app=None, **kwargs):
    """An MSAL app and a started auth-code flow (scopes as the portal asks: User.Read only)."""
    app = app or make_msal_app(emulator, tenant)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=TEST_REDIRECT_URI, **kwargs)
    return app, flow


def sign_in(emulator, login, tenant="organizations", app=None, on_behalf=None, browser=None, **kwargs):
    """Run the browser part (picker, then Accept if asked) and redeem the code; return (result, browser)."""
    app, flow = start_flow(emulator, tenant, app, **kwargs)
    browser = browser or make_browser(emulator)
    browser.open(flow["auth_uri"])
    if not browser.done:
        browser.pick(login)
    if not browser.done:
        browser.accept(on_behalf)
    assert browser.done, browser.text
    return app.acquire_token_by_auth_code_flow(flow, browser.redirect_params), browser


def code_for(emulator, login, **kwargs):
    """The app, flow and redirect parameters of a successful browser round trip (code not redeemed)."""
    app, flow = start_flow(emulator, **kwargs)
    browser = make_browser(emulator).open(flow["auth_uri"]).pick(login)
    if not browser.done:
        browser.accept()
    return app, flow, browser.redirect_params


def discovery(emulator, tenant="organizations"):
    """The emulator's OpenID configuration for a tenant segment."""
    session = make_http_session(emulator)
    return session.get(f"{emulator.https_base}/{tenant}/v2.0/.well-known/openid-configuration").json()


def fetch_jwks(emulator):
    """One fetch of the signing keys."""
    return make_http_session(emulator).get(discovery(emulator)["jwks_uri"]).json()


def verify(emulator, id_token, client_id=CLIENT_ID, jwks=None):
    """Validate an id token the way the portal must: signature by kid, aud, exp, iss with tid."""
    jwk_set = jwt.PyJWKSet.from_dict(jwks or fetch_jwks(emulator))
    key = jwk_set[jwt.get_unverified_header(id_token)["kid"]]
    claims = jwt.decode(id_token, key, algorithms=["RS256"], audience=client_id)
    expected = discovery(emulator)["issuer"].replace("{tenantid}", claims["tid"])
    assert claims["iss"] == expected, (claims["iss"], expected)
    return claims


def assert_entra_error(body, error, code):
    """An error body in Entra's shape."""
    assert body["error"] == error, body
    assert body["error_description"].startswith(f"AADSTS{code}:"), body
    assert body["error_codes"] == [code]
    for field in ("timestamp", "trace_id", "correlation_id"):
        assert body[field]


def with_params(url, **changes):
    """A URL with some query parameters replaced (None removes one)."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def client_credentials(emulator, tenant):
    """A client-credentials token for one organization, as Test a Connection asks for it."""
    app = make_msal_app(emulator, tenant)
    return app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])


def graph(emulator, path, token=None):
    """A Graph GET on the emulator."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return make_http_session(emulator).get(f"{emulator.https_base}{path}", headers=headers)


def presenter_post(emulator, action, **fields):
    """Press a presenter-page button (with the page's CSRF token)."""
    browser = make_browser(emulator).open(emulator.presenter_url)
    token = browser.forms[0]["fields"]["csrf_token"]
    return browser.session.post(f"{emulator.http_base}/_presenter/{action}", data=dict(fields, csrf_token=token),
                                allow_redirects=False)


# -- discovery ---------------------------------------------------------------------------------
def test_discovery_names_https_back_channel_and_http_front_channel(fresh_emulator):
    config = discovery(fresh_emulator)
    assert config["issuer"] == f"{fresh_emulator.https_base}/{{tenantid}}/v2.0"
    assert config["authorization_endpoint"] == f"{fresh_emulator.http_base}/organizations/oauth2/v2.0/authorize"
    assert config["token_endpoint"] == f"{fresh_emulator.https_base}/organizations/oauth2/v2.0/token"
    assert config["jwks_uri"].startswith(fresh_emulator.https_base)
    assert config["end_session_endpoint"].startswith(fresh_emulator.http_base)
    contoso = discovery(fresh_emulator, CONTOSO_TID)
    assert contoso["issuer"] == f"{fresh_emulator.https_base}/{CONTOSO_TID}/v2.0"
    assert discovery(fresh_emulator, "contoso.com")["issuer"] == contoso["issuer"]


def test_unknown_tenant_is_refused_by_discovery(fresh_emulator):
    unknown = "00000000-1111-2222-3333-444444444444"
    response = make_http_session(fresh_emulator).get(
        f"{fresh_emulator.https_base}/{unknown}/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400
    assert_entra_error(response.json(), "invalid_tenant", 90002)
    with pytest.raises(ValueError):
        make_msal_app(fresh_emulator, unknown)


# -- a full sign-in ----------------------------------------------------------------------------
def test_full_sign_in_returns_a_signed_id_token_with_the_promised_claims(fresh_emulator):
    result, browser = sign_in(fresh_emulator, "alex@contoso.com")
    assert "error" not in result, result
    claims = verify(fresh_emulator, result["id_token"])
    assert claims["tid"] == CONTOSO_TID and claims["oid"] == ALEX
    assert claims["name"] == "Alex Wilber"
    assert claims["preferred_username"] == claims["email"] == "alex@contoso.com"
    assert claims["xms_edov"] is True and claims["ver"] == "2.0"
    assert claims["iat"] == claims["nbf"] and claims["exp"] - claims["iat"] == 3600
    assert len(claims["sub"]) == 43 and claims["sub"] != ALEX
    assert "kid" in jwt.get_unverified_header(result["id_token"])
    # MSAL sends the SHA-256 of the flow's nonce; the emulator echoes exactly what it was sent.
    assert claims["nonce"] == result["id_token_claims"]["nonce"]
    client_info = json.loads(msal.oauth2cli.oidc.decode_part(browser.redirect_params["client_info"]))
    assert client_info == {"uid": ALEX, "utid": CONTOSO_TID}
    assert browser.redirect_params["session_state"]
    assert result["client_info"] == browser.redirect_params["client_info"]


def test_sub_is_pairwise_per_application(fresh_emulator):
    other_app = "0f6c3c5e-9a3e-4b8e-9c1e-2d7a5b1c0e99"
    fresh_emulator.state.register_app(other_app, "other-secret", [TEST_REDIRECT_URI], name="Other App")
    first, _ = sign_in(fresh_emulator, "alex@contoso.com")
    second, _ = sign_in(fresh_emulator, "alex@contoso.com",
                        app=make_msal_app(fresh_emulator, client_id=other_app, secret="other-secret"))
    assert first["id_token_claims"]["oid"] == second["id_token_claims"]["oid"]
    assert first["id_token_claims"]["sub"] != second["id_token_claims"]["sub"]
    assert second["id_token_claims"]["aud"] == other_app


def test_tenant_specific_authority_offers_only_that_organization(fresh_emulator):
    app, flow = start_flow(fresh_emulator, CONTOSO_TID)
    browser = make_browser(fresh_emulator).open(flow["auth_uri"])
    assert "alex@contoso.com" in browser.accounts()
    assert "fiona@fabrikam.com" not in browser.accounts()
    browser.pick("diego@contoso.com").accept()
    result = app.acquire_token_by_auth_code_flow(flow, browser.redirect_params)
    assert result["id_token_claims"]["tid"] == CONTOSO_TID


def test_form_post_response_mode(fresh_emulator):
    app, flow = start_flow(fresh_emulator, response_mode="form_post")
    browser = make_browser(fresh_emulator).open(flow["auth_uri"]).pick("lee@contoso.com").accept()
    assert browser.redirect_url == TEST_REDIRECT_URI and "code" in browser.redirect_params
    result = app.acquire_token_by_auth_code_flow(flow, browser.redirect_params)
    assert result["id_token_claims"]["preferred_username"] == "lee@contoso.com"


def test_login_hint_preselects_and_skips_the_picker_once_signed_in(fresh_emulator):
    app, flow = start_flow(fresh_emulator, login_hint="diego@contoso.com")
    browser = make_browser(fresh_emulator).open(flow["auth_uri"])
    assert browser.preselected() == "diego@contoso.com"
    browser.pick("diego@contoso.com").accept()
    _, again = start_flow(fresh_emulator, app=app, login_hint="diego@contoso.com")
    assert browser.open(again["auth_uri"]).done  # signed in and consented: straight back to the app
    _, choose = start_flow(fresh_emulator, app=app, login_hint="diego@contoso.com", prompt="select_account")
    assert not browser.open(choose["auth_uri"]).done and "Pick an account" in browser.text


def test_prompt_none_never_shows_a_page(fresh_emulator):
    app, flow = start_flow(fresh_emulator, prompt="none")
    browser = make_browser(fresh_emulator).open(flow["auth_uri"])
    assert browser.redirect_params["error"] == "login_required"
    assert "AADSTS50058" in browser.redirect_params["error_description"]
    assert browser.redirect_params["state"] == flow["state"]
    # Signed in (picked) but declined consent: consent_required.
    _, flow = start_flow(fresh_emulator, app=app)
    browser.open(flow["auth_uri"]).pick("adele@contoso.com").cancel()
    _, flow = start_flow(fresh_emulator, app=app, prompt="none")
    assert browser.open(flow["auth_uri"]).redirect_params["error"] == "consent_required"
    # Consented: a code without any page.
    _, flow = start_flow(fresh_emulator, app=app)
    browser.open(flow["auth_uri"]).pick("adele@contoso.com").accept()
    _, flow = start_flow(fresh_emulator, app=app, prompt="none")
    params = browser.open(flow["auth_uri"]).redirect_params
    assert "code" in params
    assert app.acquire_token_by_auth_code_flow(flow, params)["id_token_claims"]["oid"]


# -- refusals ----------------------------------------------------------------------------------
def test_wrong_client_secret_is_refused(fresh_emulator):
    app = make_msal_app(fresh_emulator, secret="not-the-secret")
    _, flow, params = code_for(fresh_emulator, "alex@contoso.com", app=app)
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert_entra_error(result, "invalid_client", 7000215)


def test_client_secret_is_also_accepted_with_http_basic(fresh_emulator):
    fresh_emulator.state.grant_admin_consent(CONTOSO_TID, CLIENT_ID)
    url = f"{fresh_emulator.https_base}/{CONTOSO_TID}/oauth2/v2.0/token"
    data = {"grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"}
    session = make_http_session(fresh_emulator)
    assert session.post(url, data=data, auth=(CLIENT_ID, CLIENT_SECRET)).status_code == 200
    refused = session.post(url, data=data, auth=(CLIENT_ID, "wrong"))
    assert refused.status_code == 401
    assert_entra_error(refused.json(), "invalid_client", 7000215)


def test_wrong_redirect_uri_at_authorize_shows_an_error_page_and_never_redirects(fresh_emulator):
    _, flow = start_flow(fresh_emulator)
    evil = with_params(flow["auth_uri"], redirect_uri="https://evil.example/callback")
    response = requests.get(evil, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "AADSTS50011" in response.text and "evil.example/callback" in response.text


def test_wrong_redirect_uri_at_token_is_refused(fresh_emulator):
    fresh_emulator.state.add_redirect_uri(CLIENT_ID, "http://127.0.0.1:5999/other")
    app, flow, params = code_for(fresh_emulator, "alex@contoso.com")
    result = app.acquire_token_by_auth_code_flow(dict(flow, redirect_uri="http://127.0.0.1:5999/other"), params)
    assert_entra_error(result, "invalid_client", 500112)


def test_reused_code_is_refused(fresh_emulator):
    app, flow, params = code_for(fresh_emulator, "alex@contoso.com")
    assert "id_token" in app.acquire_token_by_auth_code_flow(flow, params)
    assert_entra_error(app.acquire_token_by_auth_code_flow(flow, params), "invalid_grant", 54005)


def test_expired_code_is_refused(fresh_emulator):
    app, flow, params = code_for(fresh_emulator, "alex@contoso.com")
    fresh_emulator.state.set_clock(lambda: time.time() + 301)
    assert_entra_error(app.acquire_token_by_auth_code_flow(flow, params), "invalid_grant", 70008)


def test_wrong_pkce_verifier_is_refused(fresh_emulator):
    app, flow, params = code_for(fresh_emulator, "alex@contoso.com")
    tampered = dict(flow, code_verifier="x" * 43)
    assert_entra_error(app.acquire_token_by_auth_code_flow(tampered, params), "invalid_grant", 501481)


@pytest.mark.parametrize("changes, code", [
    ({"code_challenge_method": "plain"}, 50149),
    ({"code_challenge_method": None}, 50149),
    ({"code_challenge": None, "code_challenge_method": None}, 9002325),
])
def test_authorize_requires_pkce_s256(fresh_emulator, changes, code):
    _, flow = start_flow(fresh_emulator)
    browser = make_browser(fresh_emulator).open(with_params(flow["auth_uri"], **changes))
    assert browser.redirect_params["error"] == "invalid_request"
    assert browser.redirect_params["error_description"].startswith(f"AADSTS{code}:")
    assert browser.redirect_params["state"] == flow["state"]


def test_unknown_client_id_is_refused(fresh_emulator):
    stranger = "12345678-1234-4123-8123-123456789012"
    app = make_msal_app(fresh_emulator, client_id=stranger)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=TEST_REDIRECT_URI)
    response = requests.get(flow["auth_uri"], allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "AADSTS700016" in response.text
    assert_entra_error(app.acquire_token_by_auth_code_flow(flow, {"code": "1.emu.x", "state": flow["state"]}),
                       "unauthorized_client", 700016)


def test_code_redeemed_at_another_tenant_is_refused(fresh_emulator):
    _, flow, params = code_for(fresh_emulator, "alex@contoso.com")
    fabrikam_app = make_msal_app(fresh_emulator, FABRIKAM_TID)
    assert_entra_error(fabrikam_app.acquire_token_by_auth_code_flow(flow, params), "invalid_grant", 700005)


def test_callback_without_code_or_error_makes_msal_raise(fresh_emulator):
    app, flow = start_flow(fresh_emulator)
    with pytest.raises(ValueError):
        app.acquire_token_by_auth_code_flow(flow, {"state": flow["state"]})


# -- consent -----------------------------------------------------------------------------------
def test_cancel_on_the_permissions_page_answers_access_denied(fresh_emulator):
    app, flow = start_flow(fresh_emulator)
    browser = make_browser(fresh_emulator).open(flow["auth_uri"]).pick("alex@contoso.com")
    assert "Permissions requested" in browser.text and "Sign you in and read your profile" in browser.text
    assert "Consent on behalf of your organization" not in browser.text  # Alex is no admin
    browser.cancel()
    assert browser.redirect_params["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, browser.redirect_params)
    assert result["error"] == "access_denied" and result["error_description"].startswith("AADSTS65004:")


def test_user_consent_is_per_user_and_admin_consent_is_tenant_wide(fresh_emulator):
    state = fresh_emulator.state
    sign_in(fresh_emulator, "alex@contoso.com")
    assert state.has_consent(CONTOSO_TID, CLIENT_ID, ALEX)
    assert not state.has_consent(CONTOSO_TID, CLIENT_ID, LYNNE)
    app, flow = start_flow(fresh_emulator)
    browser = make_browser(fresh_emulator).open(flow["auth_uri"]).pick("megan@contoso.com")
    assert "Consent on behalf of your organization" in browser.text
    browser.accept(on_behalf=True)
    assert state.service_principal(CONTOSO_TID, CLIENT_ID)["admin_consent"] is True
    _, flow = start_flow(fresh_emulator, app=app)
    assert make_browser(fresh_emulator).open(flow["auth_uri"]).pick("lynne@contoso.onmicrosoft.com").done


def test_fabrikam_user_sees_approval_required_and_the_app_gets_consent_required(fresh_emulator):
    app, flow = start_flow(fresh_emulator)
    browser = make_browser(fresh_emulator).open(flow["auth_uri"]).pick("ben@fabrikam.com")
    assert "Approval required" in browser.text and "Need admin approval" in browser.text
    assert "This app requires your admin's approval to" in browser.text
    browser.follow_link("/_emulator/return")
    assert browser.redirect_params["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, browser.redirect_params)
    assert result["error"] == "consent_required" and result["error_description"].startswith("AADSTS90094:")


def test_fabrikam_admin_gets_the_organization_checkbox_pre_checked(fresh_emulator):
    _, flow = start_flow(fresh_emulator)
    browser = make_browser(fresh_emulator).open(flow["auth_uri"]).pick("fiona@fabrikam.com")
    assert browser.forms[0]["checkboxes"]["on_behalf"] == ("1", True)
    browser.accept()
    assert fresh_emulator.state.has_consent(FABRIKAM_TID, CLIENT_ID)


def admin_consent_url(emulator, tenant, version="", **extra):
    """The tenant-wide admin-consent link the portal offers."""
    prefix = "/v2.0" if version else ""
    query = dict({"client_id": CLIENT_ID, "redirect_uri": TEST_REDIRECT_URI, "state": "xyz"}, **extra)
    return f"{emulator.http_base}/{tenant}{prefix}/adminconsent?{urlencode(query)}"


@pytest.mark.parametrize("version", ["", "v2.0"])
def test_admin_consent_then_a_fabrikam_user_signs_in(fresh_emulator, version):
    extra = {"scope": "https://graph.microsoft.com/.default"} if version else {}
    browser = make_browser(fresh_emulator).open(admin_consent_url(fresh_emulator, FABRIKAM_TID, version, **extra))
    assert browser.accounts() == ["fiona@fabrikam.com", "ben@fabrikam.com", "carla@fabrikam.com"]
    browser.pick("fiona@fabrikam.com")
    assert "Accept for your organization" in browser.text
    browser.accept()
    assert browser.redirect_url.startswith(TEST_REDIRECT_URI)
    assert browser.redirect_params["admin_consent"] == "True"
    assert browser.redirect_params["tenant"] == FABRIKAM_TID and browser.redirect_params["state"] == "xyz"
    result, _ = sign_in(fresh_emulator, "ben@fabrikam.com")
    assert result["id_token_claims"]["tid"] == FABRIKAM_TID
    assert "access_token" in client_credentials(fresh_emulator, FABRIKAM_TID)


def test_admin_consent_refuses_a_non_admin_and_reports_cancel(fresh_emulator):
    browser = make_browser(fresh_emulator).open(admin_consent_url(fresh_emulator, "organizations"))
    browser.pick("carla@fabrikam.com")
    assert browser.redirect_params["error"] == "access_denied"
    assert browser.redirect_params["admin_consent"] == "False" and browser.redirect_params["state"] == "xyz"
    browser.open(admin_consent_url(fresh_emulator, "organizations")).pick("fiona@fabrikam.com").cancel()
    assert browser.redirect_params["error"] == "access_denied"
    assert browser.redirect_params["error_description"].startswith("AADSTS65004:")
    assert browser.redirect_params["admin_consent"] == "False"
    assert not fresh_emulator.state.has_consent(FABRIKAM_TID, CLIENT_ID)


def test_admin_consent_with_an_unregistered_redirect_uri_shows_an_error_page(fresh_emulator):
    url = admin_consent_url(fresh_emulator, FABRIKAM_TID, redirect_uri="https://evil.example/")
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "AADSTS50011" in response.text


# -- identities ----------------------------------------------------------------------------------
def test_attacker_corp_user_claims_megan_email_on_an_unverified_domain(fresh_emulator):
    result, _ = sign_in(fresh_emulator, "mallory@attacker.example")
    claims = verify(fresh_emulator, result["id_token"])
    assert claims["email"] == "megan@contoso.com" and claims["xms_edov"] is False
    assert claims["tid"] == ATTACKER_TID and claims["oid"] == MALLORY


def test_user_without_mail_has_no_email_claim(fresh_emulator):
    result, _ = sign_in(fresh_emulator, "lynne@contoso.onmicrosoft.com")
    claims = result["id_token_claims"]
    assert "email" not in claims and claims["xms_edov"] is False
    assert claims["preferred_username"] == "lynne@contoso.onmicrosoft.com"


def test_guest_signs_in_with_the_invited_address(fresh_emulator):
    result, _ = sign_in(fresh_emulator, "pat@partner.example")
    claims = result["id_token_claims"]
    assert claims["tid"] == CONTOSO_TID and claims["preferred_username"] == "pat@partner.example"
    assert claims["email"] == "pat@partner.example" and claims["xms_edov"] is False


# -- client credentials and Graph ----------------------------------------------------------------
def test_client_credentials_need_consent_in_that_organization(fresh_emulator):
    assert_entra_error(client_credentials(fresh_emulator, CONTOSO_TID), "unauthorized_client", 700016)
    fresh_emulator.state.grant_admin_consent(CONTOSO_TID, CLIENT_ID)
    result = client_credentials(fresh_emulator, CONTOSO_TID)
    assert result["token_type"] == "Bearer" and result["access_token"]
    assert_entra_error(client_credentials(fresh_emulator, FABRIKAM_TID), "unauthorized_client", 700016)
    app = make_msal_app(fresh_emulator, CONTOSO_TID, secret="wrong")
    assert_entra_error(app.acquire_token_for_client(["https://graph.microsoft.com/.default"]),
                       "invalid_client", 7000215)


def test_client_credentials_need_a_tenant_specific_authority(fresh_emulator):
    with pytest.warns(DeprecationWarning):
        result = client_credentials(fresh_emulator, "organizations")
    assert_entra_error(result, "invalid_request", 50059)


def test_graph_organization_and_me_need_an_emulator_token(fresh_emulator):
    result, _ = sign_in(fresh_emulator, "megan@contoso.com")
    response = graph(fresh_emulator, "/v1.0/organization", result["access_token"])
    assert response.status_code == 200
    org = response.json()["value"][0]
    assert org["id"] == CONTOSO_TID and org["displayName"] == "Contoso"
    assert {d["name"] for d in org["verifiedDomains"]} == {"contoso.com", "contoso.onmicrosoft.com"}
    assert set(org["verifiedDomains"][0]) >= {"name", "isDefault", "isInitial", "type"}
    me = graph(fresh_emulator, "/v1.0/me", result["access_token"]).json()
    assert me["id"] == result["id_token_claims"]["oid"] and me["mail"] == "megan@contoso.com"
    for token in (None, "not-a-token", result["id_token"]):
        refused = graph(fresh_emulator, "/v1.0/organization", token)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_graph_me_refuses_an_app_only_token(fresh_emulator):
    fresh_emulator.state.grant_admin_consent(FABRIKAM_TID, CLIENT_ID)
    token = client_credentials(fresh_emulator, FABRIKAM_TID)["access_token"]
    assert graph(fresh_emulator, "/v1.0/organization", token).json()["value"][0]["id"] == FABRIKAM_TID
    assert graph(fresh_emulator, "/v1.0/me", token).status_code == 400


# -- tamper modes --------------------------------------------------------------------------------
def tampered_id_token(emulator, mode):
    """Sign in with a tamper mode on and return the id token MSAL received."""
    emulator.state.set_tamper(mode)
    result, _ = sign_in(emulator, "alex@contoso.com")
    emulator.state.set_tamper(None)
    return result["id_token"]


@pytest.mark.parametrize("mode, error", [
    ("bad_signature", jwt.InvalidSignatureError),
    ("alg_none", jwt.InvalidAlgorithmError),
    ("wrong_aud", jwt.InvalidAudienceError),
    ("expired", jwt.ExpiredSignatureError),
])
def test_tamper_modes_that_signature_or_claims_checks_catch(fresh_emulator, mode, error):
    token = tampered_id_token(fresh_emulator, mode)
    assert jwt.get_unverified_header(token)["kid"] == fresh_emulator.state.keys.main_kid
    with pytest.raises(error):
        verify(fresh_emulator, token)


def test_tamper_expired_puts_exp_and_iat_in_the_past(fresh_emulator):
    claims = jwt.decode(tampered_id_token(fresh_emulator, "expired"), options={"verify_signature": False})
    now = time.time()
    assert now - 3700 < claims["exp"] < now - 3500 and claims["exp"] - claims["iat"] == 3600


@pytest.mark.parametrize("mode", ["wrong_iss", "iss_tid_mismatch"])
def test_tamper_modes_that_only_the_issuer_check_catches(fresh_emulator, mode):
    token = tampered_id_token(fresh_emulator, mode)
    claims = jwt.decode(token, jwt.PyJWKSet.from_dict(fetch_jwks(fresh_emulator))[
        fresh_emulator.state.keys.main_kid], algorithms=["RS256"], audience=CLIENT_ID)
    assert claims["iss"] != f"{fresh_emulator.https_base}/{claims['tid']}/v2.0"
    if mode == "iss_tid_mismatch":
        assert claims["iss"].startswith(fresh_emulator.https_base) and CONTOSO_TID not in claims["iss"]
    with pytest.raises(AssertionError):
        verify(fresh_emulator, token)


def test_tamper_wrong_nonce_is_caught_by_msal(fresh_emulator):
    fresh_emulator.state.set_tamper("wrong_nonce")
    app, flow, params = code_for(fresh_emulator, "alex@contoso.com")
    with pytest.raises(RuntimeError, match="nonce"):
        app.acquire_token_by_auth_code_flow(flow, params)


def test_tamper_unknown_kid_is_published_from_the_second_jwks_fetch(fresh_emulator):
    before = fetch_jwks(fresh_emulator)  # a JWKS cached before the rollover
    token = tampered_id_token(fresh_emulator, "unknown_kid")
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid != fresh_emulator.state.keys.main_kid
    assert kid not in {k["kid"] for k in before["keys"]}
    first = fetch_jwks(fresh_emulator)
    assert kid not in {k["kid"] for k in first["keys"]}
    second = fetch_jwks(fresh_emulator)
    assert kid in {k["kid"] for k in second["keys"]}
    assert verify(fresh_emulator, token, jwks=second)["oid"] == ALEX
    assert kid in {k["kid"] for k in fetch_jwks(fresh_emulator)["keys"]}  # and stays published


def test_pyjwkclient_needs_no_cooldown_to_follow_the_rollover(fresh_emulator):
    """PyJWT 2.15's PyJWKClient skips the refresh within cooldown_duration (30 s) of its last fetch."""
    context = ssl.create_default_context(cafile=fresh_emulator.ca_bundle)
    jwks_uri = discovery(fresh_emulator)["jwks_uri"]
    token = tampered_id_token(fresh_emulator, "unknown_kid")
    with pytest.raises(jwt.PyJWKClientError):
        jwt.PyJWKClient(jwks_uri, ssl_context=context, timeout=5).get_signing_key_from_jwt(token)
    token = tampered_id_token(fresh_emulator, "unknown_kid")  # a new rollover key
    fetches = fresh_emulator.state.keys.jwks_fetches
    client = jwt.PyJWKClient(jwks_uri, ssl_context=context, timeout=5, cooldown_duration=0)
    assert client.get_signing_key_from_jwt(token).key_id == jwt.get_unverified_header(token)["kid"]
    assert fresh_emulator.state.keys.jwks_fetches == fetches + 2  # the withheld fetch, then one refresh


def test_tamper_unknown_kid_stays_on_after_the_key_is_published(fresh_emulator):
    fresh_emulator.state.set_tamper("unknown_kid")
    first, _ = sign_in(fresh_emulator, "alex@contoso.com")
    fetch_jwks(fresh_emulator)
    second, _ = sign_in(fresh_emulator, "diego@contoso.com")
    kid = jwt.get_unverified_header(second["id_token"])["kid"]
    assert kid == jwt.get_unverified_header(first["id_token"])["kid"]
    assert verify(fresh_emulator, second["id_token"])["preferred_username"] == "diego@contoso.com"


def test_tamper_unknown_kid_with_no_withheld_fetch(fresh_emulator):
    fresh_emulator.state.set_tamper("unknown_kid", withhold_fetches=0)
    result, _ = sign_in(fresh_emulator, "alex@contoso.com")
    kid = jwt.get_unverified_header(result["id_token"])["kid"]
    assert kid in {k["kid"] for k in fetch_jwks(fresh_emulator)["keys"]}


def test_tamper_unpublished_kid_is_never_in_the_jwks(fresh_emulator):
    token = tampered_id_token(fresh_emulator, "unpublished_kid")
    kid = jwt.get_unverified_header(token)["kid"]
    for _ in range(3):
        assert kid not in {k["kid"] for k in fetch_jwks(fresh_emulator)["keys"]}


def test_tamper_slow_makes_the_client_time_out(fresh_emulator):
    app = make_msal_app(fresh_emulator, timeout=0.5)
    _, flow, params = code_for(fresh_emulator, "alex@contoso.com", app=app)
    fresh_emulator.state.set_delay(1.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        app.acquire_token_by_auth_code_flow(flow, params)


def test_tamper_fail_500_raises_msal_service_error(fresh_emulator):
    app, flow, params = code_for(fresh_emulator, "alex@contoso.com")
    fresh_emulator.state.set_tamper("fail_500")
    with pytest.raises(MsalServiceError):
        app.acquire_token_by_auth_code_flow(flow, params)


def test_tamper_non_json_raises_a_json_error(fresh_emulator):
    app, flow, params = code_for(fresh_emulator, "alex@contoso.com")
    fresh_emulator.state.set_tamper("non_json")
    with pytest.raises(json.JSONDecodeError):
        app.acquire_token_by_auth_code_flow(flow, params)


def test_unknown_tamper_mode_is_refused(fresh_emulator):
    with pytest.raises(ValueError):
        fresh_emulator.state.set_tamper("bogus")


# -- presenter -----------------------------------------------------------------------------------
def test_presenter_page_lists_organizations_and_needs_its_csrf_token(fresh_emulator):
    page = requests.get(fresh_emulator.presenter_url, timeout=10)
    assert page.status_code == 200
    for name in ("Contoso", "Fabrikam", "Attacker Corp", "megan@contoso.com", "Call Recording"):
        assert name in page.text
    refused = requests.post(f"{fresh_emulator.http_base}/_presenter/reset", data={}, timeout=10)
    assert refused.status_code == 400


def test_presenter_revoke_makes_client_credentials_fail(fresh_emulator):
    assert presenter_post(fresh_emulator, "grant", tid=CONTOSO_TID, client_id=CLIENT_ID).status_code == 302
    assert "access_token" in client_credentials(fresh_emulator, CONTOSO_TID)
    sign_in(fresh_emulator, "alex@contoso.com")
    presenter_post(fresh_emulator, "revoke", tid=CONTOSO_TID, client_id=CLIENT_ID)
    assert_entra_error(client_credentials(fresh_emulator, CONTOSO_TID), "unauthorized_client", 700016)
    assert not fresh_emulator.state.has_consent(CONTOSO_TID, CLIENT_ID, ALEX)


def test_presenter_email_change_changes_the_next_token(fresh_emulator):
    presenter_post(fresh_emulator, "email", oid=ALEX, email="alex.wilber@contoso.com")
    result, _ = sign_in(fresh_emulator, "alex@contoso.com")
    assert result["id_token_claims"]["email"] == "alex.wilber@contoso.com"
    presenter_post(fresh_emulator, "email", oid=ALEX, email="alex@elsewhere.example")
    result, _ = sign_in(fresh_emulator, "alex@contoso.com")
    assert result["id_token_claims"]["email"] == "alex@elsewhere.example"
    assert result["id_token_claims"]["xms_edov"] is False


def test_presenter_disable_blocks_sign_in(fresh_emulator):
    presenter_post(fresh_emulator, "enabled", oid=ALEX, enabled="0")
    app, flow = start_flow(fresh_emulator)
    browser = make_browser(fresh_emulator).open(flow["auth_uri"]).pick("alex@contoso.com")
    assert "Your account has been locked" in browser.text and "AADSTS50057" in browser.text
    browser.follow_link("/_emulator/return")
    result = app.acquire_token_by_auth_code_flow(flow, browser.redirect_params)
    assert result["error"] == "access_denied" and result["error_description"].startswith("AADSTS50057:")
    presenter_post(fresh_emulator, "enabled", oid=ALEX, enabled="1")
    assert "id_token" in sign_in(fresh_emulator, "alex@contoso.com")[0]


def test_disabling_after_the_code_was_issued_refuses_the_redemption(fresh_emulator):
    app, flow, params = code_for(fresh_emulator, "alex@contoso.com")
    fresh_emulator.state.set_user_enabled(ALEX, False)
    assert_entra_error(app.acquire_token_by_auth_code_flow(flow, params), "invalid_grant", 50057)


def test_presenter_reset_and_tamper(fresh_emulator):
    presenter_post(fresh_emulator, "enabled", oid=ALEX, enabled="0")
    presenter_post(fresh_emulator, "tamper", mode="wrong_aud")
    assert fresh_emulator.state.tamper == "wrong_aud"
    presenter_post(fresh_emulator, "reset")
    assert fresh_emulator.state.user(ALEX)["enabled"] and fresh_emulator.state.tamper is None


# -- sign-out, state, persistence, command line --------------------------------------------------
def test_logout_forgets_the_browser_session(fresh_emulator):
    app, flow = start_flow(fresh_emulator)
    browser = make_browser(fresh_emulator).open(flow["auth_uri"]).pick("alex@contoso.com").accept()
    logout = discovery(fresh_emulator)["end_session_endpoint"]
    browser.open(f"{logout}?{urlencode({'post_logout_redirect_uri': TEST_REDIRECT_URI})}")
    assert browser.redirect_url == TEST_REDIRECT_URI
    _, flow = start_flow(fresh_emulator, app=app, prompt="none")
    assert browser.open(flow["auth_uri"]).redirect_params["error"] == "login_required"
    browser.open(logout)
    assert "You signed out of your account" in browser.text


def test_state_lookups_and_runtime_registration(tmp_path):
    state = EmulatorState(str(tmp_path))
    assert state.org_by_name("contoso")["tid"] == CONTOSO_TID
    assert state.user_by_upn("MEGAN@contoso.com")["tid"] == CONTOSO_TID
    assert len(state.users_by_mail("megan@contoso.com")) == 2
    with pytest.raises(LookupError):
        state.user_by_mail("megan@contoso.com")
    assert state.user_by_mail("megan@contoso.com", tid=ATTACKER_TID)["oid"] == MALLORY
    state.register_app("abc", "s3cret", ["http://localhost:1/cb"], name="Test")
    state.add_redirect_uri("abc", "http://localhost:2/cb")
    state.set_user_email(ALEX, "")
    state.reset()
    assert state.app("abc")["redirect_uris"] == ["http://localhost:1/cb", "http://localhost:2/cb"]
    assert state.user(ALEX)["mail"] == "alex@contoso.com"
    state.reset(keep_apps=False)
    assert state.app("abc") is None


def test_state_persists_across_a_restart(tmp_path):
    with EmulatorServer(tmp_path, log_requests=False) as first:
        first.state.add_redirect_uri(CLIENT_ID, TEST_REDIRECT_URI)
        first.state.set_user_email(ALEX, "alex.new@contoso.com")
        first.state.set_user_enabled(LYNNE, False)
        first.state.grant_admin_consent(CONTOSO_TID, CLIENT_ID)
        kid = first.state.keys.main_kid
        with open(first.ca_bundle, "rb") as handle:
            ca = handle.read()
    with EmulatorServer(tmp_path, log_requests=False) as second:
        assert second.state.user(ALEX)["mail"] == "alex.new@contoso.com"
        assert second.state.user(LYNNE)["enabled"] is False
        assert second.state.has_consent(CONTOSO_TID, CLIENT_ID)
        assert second.state.keys.main_kid == kid
        with open(second.ca_bundle, "rb") as handle:
            assert handle.read() == ca
        result, _ = sign_in(second, "alex@contoso.com")
        assert verify(second, result["id_token"])["email"] == "alex.new@contoso.com"


def test_command_line(tmp_path):
    result = CliRunner().invoke(emulator_cli, ["run", "--help"])
    assert result.exit_code == 0 and "--https-port" in result.output and "--instance" in result.output
    lines, stop = [], threading.Event()
    thread = threading.Thread(target=serve_forever, args=(str(tmp_path), "127.0.0.1", 0, 0),
                              kwargs={"announce": lines.append, "stop": stop}, daemon=True)
    thread.start()
    deadline = time.time() + 10
    while len(lines) < 3 and time.time() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    text = "\n".join(lines)
    assert "/organizations" in text and "ca.pem" in text and "/_presenter" in text
