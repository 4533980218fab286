"""Email-domain normalisation and exact matching for restricted domains and verified domains."""
from __future__ import annotations

import re
from functools import lru_cache

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# Most domains a tenant may restrict SSO to; a longer list is a paste accident, not a policy.
MAX_DOMAINS = 100


class DomainError(ValueError):
    """A domain entry that cannot be accepted; the message is shown to the administrator."""


def normalise_domain(raw: str) -> str:
    """Return the canonical form of a domain (lower-case, IDNA, no trailing dot) or raise."""
    value = (raw or "").strip()
    shown = value
    if not value:
        raise DomainError("Enter a domain, for example example.com.")
    if "@" in value:
        raise DomainError(f"“{shown}”: enter only the domain, without “@” (for example example.com).")
    if "://" in value or value.lower().startswith(("http:", "https:")) or "/" in value or "\\" in value:
        raise DomainError(f"“{shown}”: enter only the domain, without http:// or a path.")
    if "*" in value:
        raise DomainError(f"“{shown}”: wildcards are not allowed; list each domain exactly.")
    if any(ch.isspace() for ch in value):
        raise DomainError(f"“{shown}” is not a valid domain name: it contains a space.")
    # One trailing dot is the DNS root ("contoso.com."); more than one is a typo, not a domain.
    if value.endswith("."):
        value = value[:-1]
    value = value.lower()
    try:
        # The codec also maps the ideographic full stops (。．｡) to "." (IDNA 2003 nameprep).
        ascii_form = value if value.isascii() else value.encode("idna").decode("ascii")
    except UnicodeError:
        raise DomainError(f"“{shown}” is not a valid domain name.") from None
    labels = ascii_form.split(".")
    if len(labels) < 2 or len(ascii_form) > 253 or not all(_LABEL.match(lb) for lb in labels):
        raise DomainError(f"“{shown}” is not a valid domain name (for example example.com).")
    if labels[-1].isdigit():
        raise DomainError(f"“{shown}” is an address, not a domain name.")
    # A typed "xn--" label must be real punycode, or two spellings could name one domain.
    for label in labels:
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise DomainError(f"“{shown}” is not a valid domain name.") from None
    return ascii_form


def check_domains(raws: list[str]) -> tuple[list[str], dict[int, str]]:
    """Normalise entries one by one; returns (domains, {entry index: error}). Blanks are skipped."""
    domains: list[str] = []
    errors: dict[int, str] = {}
    for index, raw in enumerate(raws):
        if not (raw or "").strip():
            continue
        try:
            domain = normalise_domain(raw)
        except DomainError as exc:
            errors[index] = str(exc)
            continue
        if domain in domains:
            errors[index] = f"“{domain}” is listed twice."
        elif len(domains) >= MAX_DOMAINS:
            errors[index] = f"List at most {MAX_DOMAINS} domains."
        else:
            domains.append(domain)
    return domains, errors


def normalise_domains(raws: list[str]) -> tuple[list[str], list[str]]:
    """Normalise a list, dropping blanks; returns (domains, errors). Duplicates are errors."""
    domains, errors = check_domains(raws)
    return domains, list(errors.values())


@lru_cache(maxsize=4096)
def _canonical(raw: str) -> str:
    """normalise_domain without raising ("" for junk); cached because previews call it per user."""
    try:
        return normalise_domain(raw)
    except DomainError:
        return ""


def email_domain(email: str | None) -> str:
    """The domain part of an email in canonical form, or "" when there is none.

    An address with more than one "@" has no trustworthy domain part, so it matches nothing.
    """
    email = (email or "").strip()
    if email.count("@") != 1:
        return ""
    local, domain = email.split("@")
    if not local:
        return ""
    return _canonical(domain)


def domain_in(email: str | None, domains: list[str]) -> bool:
    """True when the email's domain equals one of the domains exactly (no suffix matching)."""
    domain = email_domain(email)
    return bool(domain) and domain in {_canonical(d) for d in domains or []}
