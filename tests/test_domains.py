"""Restricted-domain entries: normalisation, refusals with plain messages, exact matching."""
from __future__ import annotations

import pytest

from app.auth.domains import DomainError, check_domains, domain_in, email_domain, normalise_domain, normalise_domains


@pytest.mark.parametrize("raw,expected", [
    ("contoso.com", "contoso.com"),
    ("  Contoso.COM  ", "contoso.com"),
    ("contoso.com.", "contoso.com"),          # the DNS root dot
    ("sub.contoso.co.uk", "sub.contoso.co.uk"),
    ("bücher.example", "xn--bcher-kva.example"),
    ("BÜCHER.example", "xn--bcher-kva.example"),
    ("xn--bcher-kva.example", "xn--bcher-kva.example"),
    ("contoso。com", "contoso.com"),          # ideographic full stop
    ("my-company.com", "my-company.com"),
])
def test_normalise_accepts(raw, expected):
    assert normalise_domain(raw) == expected


@pytest.mark.parametrize("raw,words", [
    ("", "Enter a domain"),
    ("@contoso.com", "without “@”"),
    ("user@contoso.com", "without “@”"),
    ("https://contoso.com", "without http://"),
    ("http:contoso.com", "without http://"),
    ("contoso.com/path", "without http://"),
    ("*.contoso.com", "wildcards are not allowed"),
    ("contoso", "not a valid domain name"),
    ("contoso .com", "contains a space"),
    ("contoso..com", "not a valid domain name"),
    ("contoso.com..", "not a valid domain name"),
    ("-contoso.com", "not a valid domain name"),
    ("contoso-.com", "not a valid domain name"),
    ("con_toso.com", "not a valid domain name"),
    ("contoso.com:443", "not a valid domain name"),
    ("192.168.0.1", "is an address"),
    ("xn--zz.com", "not a valid domain name"),
    ("a" * 64 + ".com", "not a valid domain name"),
    (".".join(["a" * 60] * 5), "not a valid domain name"),
])
def test_normalise_refuses_with_a_plain_message(raw, words):
    with pytest.raises(DomainError) as exc:
        normalise_domain(raw)
    assert words in str(exc.value)


def test_check_domains_reports_each_entry_and_skips_blanks():
    domains, errors = check_domains(["Contoso.com", "", "bad domain", "contoso.com.", "example.org", "x@y.com"])
    assert domains == ["contoso.com", "example.org"]
    assert set(errors) == {2, 3, 5}
    assert "listed twice" in errors[3]


def test_normalise_domains_keeps_its_old_shape():
    assert normalise_domains(["A.com", "a.com"]) == (["a.com"], ["“a.com” is listed twice."])


def test_too_many_domains():
    domains, errors = check_domains([f"d{i}.example" for i in range(101)])
    assert len(domains) == 100 and list(errors) == [100]


@pytest.mark.parametrize("email,domain", [
    ("megan@contoso.com", "contoso.com"),
    ("Megan@CONTOSO.com.", "contoso.com"),
    (" megan@contoso.com ", "contoso.com"),
    ("megan@bücher.example", "xn--bcher-kva.example"),
    ("megan@contoso.com@evil.com", ""),  # two "@": no trustworthy domain
    ("@contoso.com", ""),
    ("megan", ""),
    ("megan@", ""),
    ("", ""),
    (None, ""),
])
def test_email_domain(email, domain):
    assert email_domain(email) == domain


@pytest.mark.parametrize("email,matches", [
    ("m@contoso.com", True),
    ("M@Contoso.Com", True),
    ("m@contoso.com.evil.com", False),
    ("m@evilcontoso.com", False),
    ("m@sub.contoso.com", False),
    ("m@contoso.co", False),
    ("m@example.org", True),
    ("contoso.com@evil.com", False),
    ("m@evil.com?@contoso.com", False),
])
def test_domain_in_matches_the_domain_part_exactly(email, matches):
    assert domain_in(email, ["contoso.com", "example.org"]) is matches


def test_domain_in_tolerates_unnormalised_lists():
    assert domain_in("m@bücher.example", ["BÜCHER.example."])
    assert not domain_in("m@contoso.com", [])
    assert not domain_in("m@contoso.com", ["not a domain"])
