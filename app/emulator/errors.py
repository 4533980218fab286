"""Errors in Entra ID's shapes: JSON bodies for the back channel, query parameters for redirects."""
import datetime
import uuid

from flask import jsonify, request

# AADSTS codes and messages the emulator answers with (worded after Entra's own).
MESSAGES = {
    50011: "The redirect URI '{redirect_uri}' specified in the request does not match the redirect "
           "URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the "
           "request matches one added to your application in the Azure portal.",
    50057: "The user account is disabled.",
    50058: "A silent sign-in request was sent but no user is signed in.",
    50059: "No tenant-identifying information found in either the request or implied by any "
           "provided credentials.",
    54005: "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use "
           "an existing refresh token.",
    65001: "The user or administrator has not consented to use the application with ID '{client_id}' "
           "named '{app_name}'. Send an interactive authorization request for this user and resource.",
    65004: "User declined to consent to access the app.",
    70000: "The provided value for the 'code' parameter is not valid.",
    70003: "The app requested an unsupported grant type '{grant_type}'.",
    70008: "The provided authorization code or refresh token has expired due to inactivity. Send a new "
           "interactive authorization request for this user and resource.",
    90002: "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
           "signing into the correct cloud.",
    90094: "Admin consent is required for the permissions requested by this application. An admin "
           "consent request may be sent to the admin.",
    500112: "The reply address '{redirect_uri}' does not match the reply address '{expected}' provided "
            "when requesting Authorization code.",
    500011: "The resource principal named {resource} was not found in the tenant named {directory}. "
            "This can happen if the application has not been installed by the administrator of the "
            "tenant or consented to by any user in the tenant.",
    700054: "response_type '{response_type}' is not enabled for the application.",
    501481: "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    700005: "Provided Authorization Code is intended to use against other tenant, thus rejected.",
    700016: "Application with identifier '{client_id}' was not found in the directory '{directory}'. "
            "This can happen if the application has not been installed by the administrator of the "
            "tenant or consented to by any user in the tenant. You may have sent your authentication "
            "request to the wrong tenant.",
    900144: "The request body must contain the following parameter: '{parameter}'.",
    1002012: "The provided value for scope {scope} is not valid. Client credential flows must have a "
             "scope value with /.default suffixed to the resource identifier (application ID URI).",
    7000215: "Invalid client secret provided. Ensure the secret being sent in the request is the client "
             "secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    7000218: "The request body must contain the following parameter: 'client_assertion' or "
             "'client_secret'.",
    9002325: "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
    50149: "Invalid Code_Challenge_method parameter. Only S256 is supported.",
    16000: "Either multiple user identities are available for the current request or selected account "
           "is not supported for the scenario.",
}


def _timestamp():
    """Entra's timestamp format, UTC to the second."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def describe(code, **values):
    """The bare 'AADSTSnnn: message' text."""
    message = MESSAGES[code].format(**values) if values else MESSAGES[code]
    return f"AADSTS{code}: {message}"


def _details(code, **values):
    """Entra's error_description: the message followed by trace id, correlation id and time."""
    trace_id, stamp = str(uuid.uuid4()), _timestamp()
    correlation_id = request.headers.get("client-request-id") or str(uuid.uuid4())
    description = (f"{describe(code, **values)} Trace ID: {trace_id} Correlation ID: {correlation_id} "
                   f"Timestamp: {stamp}")
    return description, trace_id, correlation_id, stamp


def error_body(error, code, **values):
    """The JSON body of a token-endpoint error, with Entra's fields."""
    description, trace_id, correlation_id, stamp = _details(code, **values)
    return {"error": error, "error_description": description, "error_codes": [code],
            "timestamp": stamp, "trace_id": trace_id, "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}"}


def json_error(status, error, code, **values):
    """A JSON error response for the back channel."""
    response = jsonify(error_body(error, code, **values))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def redirect_error(error, code, **values):
    """Query parameters for an error sent back to the application's redirect URI."""
    return {"error": error, "error_description": _details(code, **values)[0],
            "error_uri": f"https://login.microsoftonline.com/error?code={code}"}
