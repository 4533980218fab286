"""Tokens of the emulator: signing keys and JWKS (with simulated rollover), id and access tokens."""
import hashlib
import hmac
import json
import threading
import uuid

import jwt

from .keys import b64url, key_id, new_rsa_key, public_jwk

GRAPH_AUDIENCE = "https://graph.microsoft.com"
TOKEN_LIFETIME = 3600
# The audience used by the wrong_aud tamper mode: some other application's client id.
FOREIGN_AUDIENCE = "00000000-0000-0000-0000-00000000dead"
# The issuer host used by the wrong_iss tamper mode.
FOREIGN_ISSUER_BASE = "https://sts.attacker.example"
# Pairwise subjects only need to be stable and distinct per application; this salt is not a secret.
PAIRWISE_SALT = b"entra-id-emulator-pairwise-subject"


class SigningKeys:
    """The emulator's RS256 keys: the published key, plus the extra keys tamper modes use."""

    def __init__(self, main_key):
        """Wrap the persistent signing key; extra keys are made per process."""
        self._lock = threading.Lock()
        self.main = main_key
        self.main_kid = key_id(main_key)
        # A second key presented under the main kid, so signature checks must fail.
        self.impostor = new_rsa_key()
        self.reset()

    def reset(self):
        """Forget rollover and unpublished keys (JWKS goes back to the main key only)."""
        with self._lock:
            self._published = []        # extra (key, kid) pairs already in the JWKS
            self._rollover = None       # the pending rollover: key, kid, withhold count, armed flag
            self._unpublished = None    # a key that is never published
            self.jwks_fetches = 0

    def start_rollover(self, withhold_fetches=1):
        """Make a new key for the unknown_kid mode.

        It is absent from the JWKS until an id token signed with it has been issued, then absent from
        the next `withhold_fetches` JWKS answers, then published for good (until reset()).
        """
        key = new_rsa_key()
        with self._lock:
            self._rollover = {"key": key, "kid": "rollover-" + key_id(key)[:12],
                              "withhold": withhold_fetches, "armed": False, "published": False}

    def rollover_key(self):
        """The (key, kid) the unknown_kid mode signs with; signing with it starts the countdown."""
        with self._lock:
            if self._rollover is None:
                raise RuntimeError("start_rollover() first")
            self._rollover["armed"] = True
            return self._rollover["key"], self._rollover["kid"]

    def unpublished_key(self):
        """The (key, kid) the unpublished_kid mode signs with; it never appears in the JWKS."""
        with self._lock:
            if self._unpublished is None:
                key = new_rsa_key()
                self._unpublished = (key, "unpublished-" + key_id(key)[:12])
            return self._unpublished

    def jwks(self):
        """The JWKS document for one fetch, applying the rollover schedule."""
        with self._lock:
            self.jwks_fetches += 1
            roll = self._rollover
            if roll and roll["armed"] and not roll["published"]:
                if roll["withhold"] > 0:
                    roll["withhold"] -= 1
                else:
                    roll["published"] = True
                    self._published.append((roll["key"], roll["kid"]))
            keys = [(self.main, self.main_kid)] + self._published
            return {"keys": [public_jwk(key, kid) for key, kid in keys]}

    def verify(self, token, audience):
        """Decode an emulator-issued access token (main key only); raises jwt.InvalidTokenError."""
        return jwt.decode(token, self.main.public_key(), algorithms=["RS256"], audience=audience,
                          options={"require": ["exp", "iat", "aud", "tid"]})


def pairwise_sub(client_id, oid):
    """Entra's `sub` differs per application: an HMAC of the app id and the user's object id."""
    digest = hmac.new(PAIRWISE_SALT, f"{client_id.lower()}:{oid}".encode(), hashlib.sha256).digest()
    return b64url(digest)[:43]


def client_info(user):
    """MSAL's client_info: base64url JSON naming the user's home object id and tenant."""
    return b64url(json.dumps({"uid": user["oid"], "utid": user["tid"]}, separators=(",", ":")).encode())


def issuer(base, tid):
    """The v2.0 issuer of an organization on this emulator."""
    return f"{base}/{tid}/v2.0"


def id_token_claims(base, user, org, client_id, nonce, now, session_id, auth_time):
    """The claims of a v2.0 id token, as Entra issues them with the email and xms_edov optional claims."""
    claims = {
        "ver": "2.0", "iss": issuer(base, org["tid"]), "aud": client_id,
        "iat": now, "nbf": now, "exp": now + TOKEN_LIFETIME, "auth_time": auth_time,
        "tid": org["tid"], "oid": user["oid"], "sub": pairwise_sub(client_id, user["oid"]),
        "name": user["display_name"], "preferred_username": preferred_username(user),
        "sid": session_id, "uti": b64url(uuid.uuid4().bytes)[:22],
    }
    if nonce is not None:
        claims["nonce"] = nonce
    mail = (user.get("mail") or "").strip()
    if mail:
        claims["email"] = mail
    claims["xms_edov"] = bool(mail) and email_domain_verified(mail, org)
    return claims


def preferred_username(user):
    """Members sign in with their UPN; guests with the address they were invited with."""
    if user.get("user_type") == "Guest" and user.get("mail"):
        return user["mail"]
    return user["upn"]


def email_domain_verified(mail, org):
    """Whether the domain of `mail` is one of the organization's verified domains."""
    domain = mail.rpartition("@")[2].lower()
    return any(d["name"].lower() == domain for d in org["verified_domains"])


def sign(claims, keys, kid=None, key=None):
    """Sign claims with RS256 (the main key unless another key and kid are given)."""
    return jwt.encode(claims, key or keys.main, algorithm="RS256",
                      headers={"kid": kid or keys.main_kid, "typ": "JWT"})


def sign_id_token(claims, keys, tamper, other_tid):
    """Sign an id token, first applying the test-only tamper mode if one is set."""
    claims = dict(claims)
    if tamper == "wrong_aud":
        claims["aud"] = FOREIGN_AUDIENCE
    elif tamper == "wrong_iss":
        claims["iss"] = issuer(FOREIGN_ISSUER_BASE, claims["tid"])
    elif tamper == "iss_tid_mismatch":
        claims["iss"] = claims["iss"].replace(claims["tid"], other_tid)
    elif tamper == "expired":
        claims.update(iat=claims["iat"] - 2 * TOKEN_LIFETIME, nbf=claims["nbf"] - 2 * TOKEN_LIFETIME,
                      exp=claims["iat"] - TOKEN_LIFETIME)
    elif tamper == "wrong_nonce":
        claims["nonce"] = "tampered-" + b64url(uuid.uuid4().bytes)
    if tamper == "bad_signature":
        return sign(claims, keys, key=keys.impostor)
    if tamper == "alg_none":
        return jwt.encode(claims, None, algorithm="none", headers={"kid": keys.main_kid})
    if tamper == "unknown_kid":
        key, kid = keys.rollover_key()
        return sign(claims, keys, kid=kid, key=key)
    if tamper == "unpublished_kid":
        key, kid = keys.unpublished_key()
        return sign(claims, keys, kid=kid, key=key)
    return sign(claims, keys)


def access_token(base, keys, org, client_id, scopes, now, user=None):
    """A Graph access token: delegated (with the user) or app-only (client credentials)."""
    claims = {
        "aud": GRAPH_AUDIENCE, "iss": issuer(base, org["tid"]), "iat": now, "nbf": now,
        "exp": now + TOKEN_LIFETIME, "tid": org["tid"], "appid": client_id, "azp": client_id,
        "ver": "2.0", "uti": b64url(uuid.uuid4().bytes)[:22],
    }
    if user is None:
        claims.update(idtyp="app", roles=[], sub=pairwise_sub(client_id, client_id))
    else:
        claims.update(idtyp="user", oid=user["oid"], sub=pairwise_sub(client_id, user["oid"]),
                      scp=" ".join(scopes), name=user["display_name"], upn=user["upn"])
    return sign(claims, keys)
