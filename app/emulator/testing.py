"""Drive the emulator's browser pages without a browser (for tests and scripted demos)."""
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests

DEFAULT_TIMEOUT = 10


class TimeoutSession(requests.Session):
    """A requests session that never waits forever: every request gets a default timeout."""

    def __init__(self, timeout=DEFAULT_TIMEOUT, verify=None):
        """Ignore proxy settings from the environment and trust the given CA bundle."""
        super().__init__()
        self.trust_env = False
        self.default_timeout = timeout
        if verify is not None:
            self.verify = verify

    def request(self, method, url, *args, **kwargs):
        """Send a request with the default timeout unless one is given."""
        kwargs.setdefault("timeout", self.default_timeout)
        return super().request(method, url, *args, **kwargs)


class _FormParser(HTMLParser):
    """Collects forms (action, fields, submit buttons) and links of a page."""

    def __init__(self):
        """Start with no forms."""
        super().__init__(convert_charrefs=True)
        self.forms, self.links = [], []

    def handle_starttag(self, tag, attrs):
        """Record forms, their inputs and buttons, and links."""
        attrs = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": attrs.get("action", ""), "fields": {}, "checkboxes": {},
                               "method": attrs.get("method", "get").lower(), "buttons": []})
        elif tag == "input" and self.forms:
            form, kind = self.forms[-1], attrs.get("type", "text").lower()
            if kind == "checkbox":
                form["checkboxes"][attrs.get("name", "")] = (attrs.get("value", "on"), "checked" in attrs)
            elif kind != "submit" and attrs.get("name"):
                form["fields"][attrs["name"]] = attrs.get("value", "")
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append(attrs)
        elif tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])


class EmulatorBrowser:
    """A minimal browser for the emulator's pages; stops at the redirect back to the application."""

    def __init__(self, emulator_bases, session=None):
        """`emulator_bases`: the emulator's base URLs; anything else is the application."""
        self.bases = tuple(b.rstrip("/") for b in emulator_bases)
        self.session = session or TimeoutSession()
        self.response = None
        self.forms, self.links = [], []
        self.redirect_url = None
        self.redirect_params = None

    def _mine(self, url):
        """Whether a URL belongs to the emulator."""
        return any(url == b or url.startswith(b + "/") for b in self.bases)

    def _settle(self, response):
        """Follow redirects inside the emulator; stop at one leaving it (the answer to the app)."""
        while response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if not self._mine(location):
                self.redirect_url = location
                query = urlsplit(location).query or urlsplit(location).fragment
                self.redirect_params = dict(parse_qsl(query, keep_blank_values=True))
                break
            response = self.session.get(location, allow_redirects=False)
        self.response = response
        parser = _FormParser()
        parser.feed(response.text if "html" in response.headers.get("Content-Type", "") else "")
        self.forms, self.links = parser.forms, parser.links
        post_back = next((f for f in self.forms if f["method"] == "post" and not self._mine(
            urljoin(response.url, f["action"]))), None)
        if post_back is not None:  # response_mode=form_post: the page posts these fields to the app
            self.redirect_url = urljoin(response.url, post_back["action"])
            self.redirect_params = dict(post_back["fields"])
        return self

    @property
    def text(self):
        """The current page's HTML."""
        return self.response.text

    @property
    def done(self):
        """Whether the emulator has answered the application."""
        return self.redirect_params is not None

    def open(self, url):
        """Open a URL (typically the flow's auth_uri)."""
        self.redirect_url = self.redirect_params = None
        return self._settle(self.session.get(url, allow_redirects=False))

    def _submit(self, form, data):
        """Post a form of the current page."""
        url = urljoin(self.response.url, form["action"])
        return self._settle(self.session.post(url, data=data, allow_redirects=False))

    def pick(self, login):
        """On 'Pick an account', choose the account whose UPN or mail is `login`."""
        login = login.lower()
        for form in self.forms:
            for button in form["buttons"]:
                if login in (button.get("data-upn", "").lower(), button.get("data-mail", "").lower()):
                    return self._submit(form, dict(form["fields"], **{button["name"]: button["value"]}))
        raise AssertionError(f"no account {login!r} on this page")

    def accounts(self):
        """The UPNs offered on the current picker page."""
        return [b.get("data-upn") for f in self.forms for b in f["buttons"] if b.get("data-upn")]

    def preselected(self):
        """The UPN the picker pre-selected (login_hint), or None."""
        return next((b.get("data-upn") for f in self.forms for b in f["buttons"]
                     if "selected" in b.get("class", "").split()), None)

    def _consent(self, decision, on_behalf):
        """Press Accept or Cancel on the permissions page."""
        form = next(f for f in self.forms if any(b.get("value") == decision for b in f["buttons"]))
        data = dict(form["fields"], decision=decision)
        for name, (value, checked) in form["checkboxes"].items():
            if on_behalf if on_behalf is not None else checked:
                data[name] = value
        return self._submit(form, data)

    def accept(self, on_behalf=None):
        """Accept; `on_behalf` ticks or clears 'Consent on behalf of your organization' (None: as shown)."""
        return self._consent("accept", on_behalf)

    def cancel(self):
        """Cancel on the permissions page."""
        return self._consent("cancel", None)

    def follow_link(self, text_in_href):
        """Follow the first link whose href contains `text_in_href` (e.g. '/_emulator/return')."""
        href = next(h for h in self.links if text_in_href in h)
        self.redirect_url = self.redirect_params = None
        return self._settle(self.session.get(urljoin(self.response.url, href), allow_redirects=False))
