"""Email-domain normalisation and exact matching for restricted domains and verified domains."""
from __future__ import annotations

import re

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class DomainError(ValueError):
    """A domain entry that cannot be accepted; the message is shown to the administrator."""


def normalise_domain(raw: str) -> str:
    """Return the canonical form of a domain (lower-case, IDNA, no trailing dot) or raise."""
    value = (raw or "").strip()
    if not value:
        raise DomainError("Enter a domain, for example example.com.")
    if "@" in value:
        raise DomainError(f"“{value}”: enter only the domain, without “@” (for example example.com).")
    if "://" in value or value.lower().startswith(("http:", "https:")) or "/" in value:
        raise DomainError(f"“{value}”: enter only the domain, without http:// or a path.")
    if "*" in value:
        raise DomainError(f"“{value}”: wildcards are not allowed; list each domain exactly.")
    value = value.rstrip(".").lower()
    try:
        ascii_form = value.encode("idna").decode("ascii") if not value.isascii() else value
    except UnicodeError:
        raise DomainError(f"“{raw.strip()}” is not a valid domain name.") from None
    labels = ascii_form.split(".")
    if len(labels) < 2 or len(ascii_form) > 253 or not all(_LABEL.match(lb) for lb in labels):
        raise DomainError(f"“{raw.strip()}” is not a valid domain name (for example example.com).")
    if labels[-1].isdigit():
        raise DomainError(f"“{raw.strip()}” is an address, not a domain name.")
    return ascii_form


def normalise_domains(raws: list[str]) -> tuple[list[str], list[str]]:
    """Normalise a list, dropping blanks; returns (domains, errors). Duplicates are errors."""
    domains: list[str] = []
    errors: list[str] = []
    for raw in raws:
        if not (raw or "").strip():
            continue
        try:
            domain = normalise_domain(raw)
        except DomainError as exc:
            errors.append(str(exc))
            continue
        if domain in domains:
            errors.append(f"“{domain}” is listed twice.")
        else:
            domains.append(domain)
    return domains, errors


def email_domain(email: str | None) -> str:
    """The domain part of an email in canonical form, or "" when there is none."""
    if not email or "@" not in email:
        return ""
    try:
        return normalise_domain(email.rsplit("@", 1)[1])
    except DomainError:
        return ""


def domain_in(email: str | None, domains: list[str]) -> bool:
    """True when the email's domain equals one of the (normalised) domains exactly."""
    domain = email_domain(email)
    return bool(domain) and domain in {d.lower() for d in domains}
