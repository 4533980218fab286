"""The emulator's directory (organizations, users, apps, consents) and its test-only switches."""
import copy
import json
import os
import re
import threading
import time

from .grants import GrantStore
from .keys import SIGNING_KEY, load_or_create_signing_key
from .tokens import SigningKeys, email_domain_verified

SEED_PATH = os.path.join(os.path.dirname(__file__), "seed.json")
DIRECTORY_FILE = "directory.json"
TENANT_ALIASES = ("organizations", "common")
ADMIN_ROLES = {"Global Administrator", "Privileged Role Administrator",
               "Cloud Application Administrator", "Application Administrator"}
ID_TOKEN_TAMPERS = {"bad_signature", "alg_none", "wrong_aud", "wrong_iss", "iss_tid_mismatch",
                    "expired", "wrong_nonce", "unknown_kid", "unpublished_kid"}
TOKEN_ENDPOINT_TAMPERS = {"slow", "fail_500", "non_json"}
TAMPER_MODES = ID_TOKEN_TAMPERS | TOKEN_ENDPOINT_TAMPERS
DEFAULT_SLOW_SECONDS = 5.0
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def is_admin(user):
    """Whether a directory user holds a role that may consent for the whole organization."""
    return bool(ADMIN_ROLES.intersection(user.get("roles") or ()))


class EmulatorState:
    """Thread-safe directory persisted to `<instance_dir>/emulator/directory.json` after each change."""

    def __init__(self, instance_dir=None, seed_path=SEED_PATH):
        """Load the directory (seeding it on first start); with no instance_dir keep it in memory."""
        self._lock = threading.RLock()
        self._seed_path = seed_path
        self._clock = None
        folder = os.path.join(instance_dir, "emulator") if instance_dir else None
        self.path = os.path.join(folder, DIRECTORY_FILE) if folder else None
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.path and os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as handle:
                self._data = json.load(handle)
        else:
            self._data = self._seed()
            self._save()
        self.keys = SigningKeys(load_or_create_signing_key(
            os.path.join(folder, SIGNING_KEY) if folder else None))
        self.grants = GrantStore(self.now)
        self.tamper = None
        self.delay = 0.0

    # -- persistence -------------------------------------------------------------------------
    def _seed(self):
        """A fresh copy of the seed directory."""
        with open(self._seed_path, encoding="utf-8") as handle:
            return json.load(handle)

    def _save(self):
        """Write the directory atomically (a crash never leaves half a file)."""
        if not self.path:
            return
        temporary = self.path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self._data, handle, indent=2, sort_keys=True)
        os.replace(temporary, self.path)

    def reset(self, keep_apps=True):
        """Back to the seed: no tamper mode, delay or test clock; apps stay unless keep_apps is False."""
        with self._lock:
            apps = self._data["apps"]
            self._data = self._seed()
            if keep_apps:
                self._data["apps"] = apps
            self._save()
            self.tamper, self.delay, self._clock = None, 0.0, None
        self.grants.clear()
        self.keys.reset()

    # -- clock and test switches -------------------------------------------------------------
    def now(self):
        """Current time in seconds since the epoch (tests may set the clock)."""
        return (self._clock or time.time)()

    def set_clock(self, clock):
        """Use `clock()` for time (token lifetimes, code expiry); None restores the real clock."""
        self._clock = clock

    def set_tamper(self, mode, withhold_fetches=1):
        """Switch a test-only defect on for every following token answer until set to None."""
        if mode is not None and mode not in TAMPER_MODES:
            raise ValueError(f"unknown tamper mode {mode!r}; one of {sorted(TAMPER_MODES)}")
        with self._lock:
            if mode == "unknown_kid":
                self.keys.start_rollover(withhold_fetches)
            self.tamper = mode

    def set_delay(self, seconds):
        """Sleep `seconds` before answering each token request (0 turns it off)."""
        self.delay = max(0.0, float(seconds or 0))

    def token_delay(self):
        """Seconds the token endpoint waits now: the set delay, or a default in slow mode."""
        if self.delay:
            return self.delay
        return DEFAULT_SLOW_SECONDS if self.tamper == "slow" else 0.0

    # -- lookups (copies, so callers cannot change the directory behind the lock) ------------
    def organizations(self):
        """Every organization."""
        with self._lock:
            return copy.deepcopy(self._data["organizations"])

    def org(self, tid):
        """The organization with this tenant id, or None."""
        with self._lock:
            return copy.deepcopy(next((o for o in self._data["organizations"]
                                       if o["tid"].lower() == (tid or "").lower()), None))

    def org_by_name(self, name):
        """The organization with this display name (case-insensitive), or None."""
        with self._lock:
            return copy.deepcopy(next((o for o in self._data["organizations"]
                                       if o["name"].lower() == name.lower()), None))

    def org_by_domain(self, domain):
        """The organization that verified this domain, or None."""
        domain = (domain or "").lower()
        with self._lock:
            return copy.deepcopy(next((o for o in self._data["organizations"] if any(
                d["name"].lower() == domain for d in o["verified_domains"])), None))

    def resolve_tenant(self, segment):
        """'alias' for organizations/common, the organization for a tid or verified domain, else None."""
        if (segment or "").lower() in TENANT_ALIASES:
            return "alias"
        return self.org(segment) if GUID_RE.match(segment or "") else self.org_by_domain(segment)

    def users(self, tid=None):
        """Every user, or those of one organization."""
        with self._lock:
            return copy.deepcopy([u for u in self._data["users"] if tid is None or u["tid"] == tid])

    def user(self, oid):
        """The user with this object id, or None."""
        with self._lock:
            return copy.deepcopy(next((u for u in self._data["users"] if u["oid"] == oid), None))

    def user_by_upn(self, upn):
        """The user with this user principal name (case-insensitive), or None."""
        with self._lock:
            return copy.deepcopy(next((u for u in self._data["users"]
                                       if u["upn"].lower() == upn.lower()), None))

    def users_by_mail(self, mail):
        """Every user whose mail is `mail` (several organizations may claim the same address)."""
        with self._lock:
            return copy.deepcopy([u for u in self._data["users"]
                                  if (u.get("mail") or "").lower() == mail.lower()])

    def user_by_mail(self, mail, tid=None):
        """The one user with this mail (in organization `tid` if given); LookupError if not exactly one."""
        found = [u for u in self.users_by_mail(mail) if tid is None or u["tid"] == tid]
        if len(found) != 1:
            raise LookupError(f"{len(found)} users have mail {mail!r}; pass tid to choose")
        return found[0]

    def email_verified(self, user):
        """Whether the user's mail is on a verified domain of the user's own organization."""
        org = self.org(user["tid"])
        return bool(user.get("mail")) and email_domain_verified(user["mail"], org)

    def apps(self):
        """Every registered application (with its secret: this is a test tool)."""
        with self._lock:
            return copy.deepcopy(self._data["apps"])

    def app(self, client_id):
        """The registered application with this client id, or None."""
        with self._lock:
            return copy.deepcopy(next((a for a in self._data["apps"]
                                       if a["client_id"].lower() == (client_id or "").lower()), None))

    def service_principal(self, tid, client_id):
        """The app's service principal in an organization (exists once anyone consented), or None."""
        with self._lock:
            return copy.deepcopy(self._find_sp(tid, client_id))

    def _find_sp(self, tid, client_id):
        """The live service principal record (callers hold the lock)."""
        return next((sp for sp in self._data["service_principals"]
                     if sp["tid"] == tid and sp["client_id"].lower() == client_id.lower()), None)

    def user_consented(self, oid, client_id):
        """Whether this user consented to the app for themselves."""
        with self._lock:
            return any(c["oid"] == oid and c["client_id"].lower() == client_id.lower()
                       for c in self._data["user_consents"])

    def has_consent(self, tid, client_id, oid=None):
        """Whether the app may act in `tid`: tenant-wide admin consent, or this user's own consent."""
        sp = self.service_principal(tid, client_id)
        if sp and sp["admin_consent"]:
            return True
        return bool(sp and oid and self.user_consented(oid, client_id))

    # -- changes (each one persisted) --------------------------------------------------------
    def register_app(self, client_id, client_secret, redirect_uris, name="Call Recording"):
        """Register (or replace) an application with its secret and exact redirect URIs."""
        with self._lock:
            self._data["apps"] = [a for a in self._data["apps"]
                                  if a["client_id"].lower() != client_id.lower()]
            self._data["apps"].append({"client_id": client_id, "client_secret": client_secret,
                                       "name": name, "redirect_uris": list(redirect_uris)})
            self._save()

    def add_redirect_uri(self, client_id, uri):
        """Add one redirect URI to a registered application (KeyError if unknown)."""
        with self._lock:
            app = next((a for a in self._data["apps"]
                        if a["client_id"].lower() == client_id.lower()), None)
            if app is None:
                raise KeyError(client_id)
            if uri not in app["redirect_uris"]:
                app["redirect_uris"].append(uri)
                self._save()

    def _ensure_sp(self, tid, client_id):
        """The app's service principal in `tid`, created if missing (callers hold the lock)."""
        sp = self._find_sp(tid, client_id)
        if sp is None:
            sp = {"tid": tid, "client_id": client_id, "admin_consent": False}
            self._data["service_principals"].append(sp)
        return sp

    def grant_admin_consent(self, tid, client_id):
        """Record tenant-wide admin consent (creating the service principal)."""
        with self._lock:
            if not self.org(tid):
                raise KeyError(tid)
            self._ensure_sp(tid, client_id)["admin_consent"] = True
            self._save()

    def grant_user_consent(self, oid, client_id):
        """Record one user's own consent (which also creates the service principal in their org)."""
        with self._lock:
            user = self._live_user(oid)
            self._ensure_sp(user["tid"], client_id)
            if not self.user_consented(oid, client_id):
                self._data["user_consents"].append({"oid": oid, "client_id": client_id})
            self._save()

    def revoke_consent(self, tid, client_id):
        """Remove the app from an organization: its service principal and every user consent there."""
        with self._lock:
            members = {u["oid"] for u in self._data["users"] if u["tid"] == tid}
            self._data["service_principals"] = [
                sp for sp in self._data["service_principals"]
                if not (sp["tid"] == tid and sp["client_id"].lower() == client_id.lower())]
            self._data["user_consents"] = [
                c for c in self._data["user_consents"]
                if not (c["oid"] in members and c["client_id"].lower() == client_id.lower())]
            self._save()

    def _live_user(self, oid):
        """The live user record (callers hold the lock); KeyError if unknown."""
        user = next((u for u in self._data["users"] if u["oid"] == oid), None)
        if user is None:
            raise KeyError(oid)
        return user

    def set_user_email(self, oid, email):
        """Change a user's mail attribute (empty removes it); the UPN does not change."""
        with self._lock:
            self._live_user(oid)["mail"] = (email or "").strip()
            self._save()

    def set_user_enabled(self, oid, enabled):
        """Enable or disable a user's sign-in."""
        with self._lock:
            self._live_user(oid)["enabled"] = bool(enabled)
            self._save()
