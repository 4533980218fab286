"""Short-lived, in-memory protocol state: pending authorization requests and authorization codes."""
import secrets
import threading

# Entra's authorization codes live for minutes; ours for five, which the tests rely on.
CODE_LIFETIME = 300
# A person may take a while on the picker and consent pages.
REQUEST_LIFETIME = 1800


class GrantStore:
    """Thread-safe store of pending browser requests and issued codes (never persisted)."""

    def __init__(self, clock):
        """Create an empty store that reads time from `clock()`."""
        self._clock = clock
        self._lock = threading.Lock()
        self._requests = {}
        self._codes = {}

    def clear(self):
        """Forget every pending request and code."""
        with self._lock:
            self._requests.clear()
            self._codes.clear()

    def _purge(self):
        """Drop entries long past their lifetime (used codes are kept until then to detect reuse)."""
        now = self._clock()
        for store in (self._requests, self._codes):
            for key in [k for k, v in store.items() if v["expires"] + CODE_LIFETIME < now]:
                del store[key]

    def add_request(self, params, browser_id):
        """Remember a validated authorization request for one browser; return its id."""
        request_id = secrets.token_urlsafe(24)
        with self._lock:
            self._purge()
            self._requests[request_id] = {"params": dict(params), "browser": browser_id,
                                          "expires": self._clock() + REQUEST_LIFETIME}
        return request_id

    def get_request(self, request_id, browser_id):
        """The pending request `request_id` if it belongs to this browser and has not expired."""
        with self._lock:
            entry = self._requests.get(request_id or "")
            if not entry or entry["browser"] != browser_id or entry["expires"] < self._clock():
                return None
            return entry

    def update_request(self, request_id, **changes):
        """Record progress on a pending request (the chosen account, a pending error)."""
        with self._lock:
            if request_id in self._requests:
                self._requests[request_id].update(changes)

    def drop_request(self, request_id):
        """Forget a pending request once its answer has gone back to the application."""
        with self._lock:
            self._requests.pop(request_id, None)

    def issue_code(self, grant):
        """Store what an authorization code stands for; return the new single-use code."""
        code = "1.emu." + secrets.token_urlsafe(48)
        with self._lock:
            self._purge()
            self._codes[code] = dict(grant, used=False, expires=self._clock() + CODE_LIFETIME)
        return code

    def redeem_code(self, code):
        """Mark a code used and return (grant, problem); problem is None, 'unknown', 'used' or 'expired'."""
        with self._lock:
            grant = self._codes.get(code or "")
            if grant is None:
                return None, "unknown"
            if grant["used"]:
                return grant, "used"
            grant["used"] = True  # any redemption attempt burns the code, so a verifier cannot be guessed
            if grant["expires"] < self._clock():
                return grant, "expired"
            return dict(grant), None
