"""User management without HTTP: validation, guards, warnings, locking, keyset pages, search."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from app.accounts import ValidationFailed
from app.auth import rules
from app.extensions import db
from app.models import User
from app.users import listing, search, service
from app.users.service import UserInput

TODAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 12, 0)


def tenant_users(tenant):
    """The tenant-scoped base statement the view would get from scoped(User)."""
    return select(User).where(User.tenant_id == tenant.id)


def as_input(user: User, **changes) -> UserInput:
    """The edit form of a user, with changes."""
    data = dict(login=user.login, email=user.email, display_name=user.display_name, role=user.role,
                web_access=user.web_access, auth_type=user.auth_type, require_2fa=user.require_2fa,
                valid_till=user.valid_till.isoformat() if user.valid_till else "")
    data.update(changes)
    return UserInput(**data)


# --- valid till -------------------------------------------------------------------------------

@pytest.mark.parametrize("raw,current,expected", [
    ("", None, (None, None)),
    ("  ", None, (None, None)),
    ("2026-12-01", None, (dt.date(2026, 12, 1), None)),  # today: still valid (inclusive)
    ("2027-01-31", None, (dt.date(2027, 1, 31), None)),
    ("2026-11-30", dt.date(2026, 11, 30), (dt.date(2026, 11, 30), None)),  # unchanged past date
])
def test_valid_till_accepted(raw, current, expected):
    assert service.parse_valid_till(raw, TODAY, current) == expected


@pytest.mark.parametrize("raw,words", [
    ("2026-11-30", "cannot be in the past"), ("01/12/2027", "yyyy-mm-dd"), ("2027-02-29", "does not exist"),
    ("2027-1-5", "yyyy-mm-dd"), ("tomorrow", "yyyy-mm-dd"), ("2027-12-31T00:00", "yyyy-mm-dd"),
])
def test_valid_till_refused(raw, words):
    day, error = service.parse_valid_till(raw, TODAY)
    assert day is None and words in error


# --- create and update ------------------------------------------------------------------------

def test_create_collects_every_error_at_once(people):
    with pytest.raises(ValidationFailed) as exc:
        service.create(people["tenant_a"], UserInput(login="bad login", email="x", display_name="",
                                                     valid_till="yesterday", password="a",
                                                     password_confirm="b"), TODAY)
    assert set(exc.value.errors) >= {"login", "email", "display_name", "valid_till", "password"}


def test_update_refuses_a_stale_version_before_anything(people):
    user = people["user_a"]
    with pytest.raises(service.Conflict):
        service.update(user, people["tenant_a"], as_input(user, display_name="X"), actor=None,
                       loaded_version=user.version - 1, today=TODAY)
    assert db.session.get(User, user.id).display_name == "User-A"


def test_a_concurrent_write_between_read_and_commit_is_a_conflict(people):
    user = people["user_a"]
    service.update(user, people["tenant_a"], as_input(user, display_name="Mine"), actor=None,
                   loaded_version=user.version, today=TODAY)
    # Another transaction committed a change first (simulated: the row's version moved on).
    db.session.connection().execute(update(User.__table__).where(User.__table__.c.id == user.id)
                                    .values(version=User.__table__.c.version + 1))
    with pytest.raises(service.Conflict):
        service.commit()
    assert db.session.get(User, user.id).display_name == "User-A"


def test_a_unique_clash_at_commit_is_a_field_error(people):
    user = people["user_a"]
    user.set_login("admin-a")  # what a racing request could commit between check and write
    with pytest.raises(ValidationFailed) as exc:
        service.commit()
    assert "login" in exc.value.errors


def test_update_does_not_audit_when_nothing_changed(people):
    user = people["user_a"]
    saved = service.update(user, people["tenant_a"], as_input(user), actor=None,
                           loaded_version=user.version, today=TODAY)
    assert saved.sessions_ended == [] and not db.session.new


# --- guards -----------------------------------------------------------------------------------

def test_guards_for_self(people):
    admin = people["admin_a"]
    errors = service.guard_errors(admin, admin, as_input(admin, web_access=False, role="user", auth_type="sso"),
                                  None, False, TODAY)
    assert set(errors) == {"web_access", "role", "auth_type"}


def test_guard_for_the_last_admin_applies_to_anyone(people, factory):
    admin = people["admin_a"]
    errors = service.guard_errors(people["sp"], admin, as_input(admin, role="user"), None, False, TODAY)
    assert "last administrator" in errors["role"]
    assert service.is_last_admin(admin, TODAY)
    factory.user(people["tenant_a"], "expired-admin", "tenant_admin", valid_till=TODAY - dt.timedelta(days=1))
    factory.user(people["tenant_a"], "disabled-admin", "tenant_admin", web_access=False)
    assert service.is_last_admin(admin, TODAY)  # those two cannot sign in
    factory.user(people["tenant_a"], "other-admin", "tenant_admin", valid_till=TODAY)
    assert not service.is_last_admin(admin, TODAY)


# --- warnings ---------------------------------------------------------------------------------

def subject(**fields):
    base = dict(email="nina@contoso.com", web_access=True, valid_till=None, auth_type="sso",
                require_2fa=False, has_password=False)
    base.update(fields)
    return SimpleNamespace(**base)


def connection(**fields):
    base = dict(status="connected", auto_activation=True, verified_domains=["contoso.com"],
                integration=SimpleNamespace(enabled=True))
    base.update(fields)
    return SimpleNamespace(**base)


def policy(**fields):
    base = dict(sso_mode="enabled", restricted_domains=[], totp_enabled=False)
    base.update(fields)
    return SimpleNamespace(**base)


@pytest.mark.parametrize("subj,pol,conns,has_link,reason", [
    (subject(), policy(), [], False, rules.ORG_NOT_CONNECTED),
    (subject(), policy(sso_mode="disabled"), [connection()], False, rules.SSO_DISABLED),
    (subject(), policy(restricted_domains=["example.org"]), [connection()], False, rules.DOMAIN_NOT_ALLOWED),
    (subject(), policy(), [connection(auto_activation=False)], False, rules.NOT_LINKED),
    (subject(), policy(), [connection(auto_activation=False)], True, None),
    (subject(), policy(), [connection(status="error")], True, rules.ORG_NOT_CONNECTED),
    (subject(web_access=False), policy(), [connection()], True, rules.WEB_ACCESS_DISABLED),
    (subject(valid_till=dt.date(2026, 11, 30)), policy(), [connection()], True, rules.EXPIRED),
    (subject(), policy(), [connection()], False, None),
])
def test_sso_warning_uses_the_rules(subj, pol, conns, has_link, reason):
    warnings = service.form_warnings(subj, pol, conns, has_link, NOW)
    if reason is None:
        assert "sso" not in warnings
    else:
        assert warnings["sso"] == service.SSO_BLOCKED + rules.EXPLANATIONS[reason]


def test_two_step_and_no_password_notes():
    warnings = service.form_warnings(subject(require_2fa=True, auth_type="password"), policy(), [], False, NOW)
    assert warnings["two_step"] == service.TWO_STEP_OFF and "no_password" in warnings
    assert "two_step" not in service.form_warnings(subject(require_2fa=True), policy(totp_enabled=True),
                                                   [], False, NOW)


# --- keyset paging ----------------------------------------------------------------------------

@pytest.fixture
def crowd(people, factory):
    """23 more users in tenant A with mixed-case names and some sign-in times (and ties)."""
    names = ["alice", "Bob", "carol", "Dave", "eve", "Frank", "grace", "Heidi", "ivan", "Judy",
             "mallory", "Niaj", "olivia", "Peggy", "rupert", "Sybil", "trent", "Victor", "walter",
             "Bob", "bob", "Alice", "zed"]
    for i, name in enumerate(names):
        last = None if i % 3 == 0 else dt.datetime(2026, 11, 1 + i % 5, 8, 0)  # ties on purpose
        factory.user(people["tenant_a"], f"u{i:02d}-{name}", display_name=name, last_login_at=last,
                     email=f"{name.lower()}{i}@contoso.com")
    return people["tenant_a"]


def expected_order(tenant, sort: str, desc: bool) -> list[int]:
    """The order the list promises, computed in Python (names are ASCII here)."""
    users = list(db.session.scalars(tenant_users(tenant)))
    value = {"login": lambda u: u.login_key, "name": lambda u: u.display_name.lower(),
             "email": lambda u: u.email_key, "last_sign_in": lambda u: u.last_login_at}[sort]
    with_value = sorted((u for u in users if value(u) is not None), key=lambda u: (value(u), u.id), reverse=desc)
    without = sorted((u for u in users if value(u) is None), key=lambda u: u.id, reverse=desc)
    return [u.id for u in with_value + without]


def walk(tenant, sort: str, desc: bool, forward: bool, per_page: int = 4) -> list[int]:
    """Every id, page by page, following Next from the first page (or Previous from the last)."""
    req = listing.ListRequest(sort=sort, desc=desc, last=not forward)
    seen: list[int] = []
    pages = 0
    while True:
        page = listing.users_page(tenant_users(tenant), tenant.id, req, per_page)
        ids = [u.id for u in page.items]
        seen = seen + ids if forward else ids + seen
        pages += 1
        assert pages < 50
        more = page.has_next if forward else page.has_prev
        if not more:
            return seen
        key = listing.SORTS[sort]
        cursor = listing.decode(page.last if forward else page.first, key)
        req = listing.ListRequest(sort=sort, desc=desc, after=cursor if forward else None,
                                  before=None if forward else cursor, number=None)


@pytest.mark.parametrize("sort", list(listing.SORTS))
@pytest.mark.parametrize("desc", [False, True])
def test_keyset_walk_matches_the_promised_order_both_ways(crowd, sort, desc):
    expected = expected_order(crowd, sort, desc)
    assert len(expected) == 25
    assert walk(crowd, sort, desc, forward=True) == expected
    assert walk(crowd, sort, desc, forward=False) == expected


def test_cursors_survive_the_url_and_junk_is_ignored():
    key = listing.SORTS["last_sign_in"]
    pos = listing.Position(0, dt.datetime(2026, 1, 2, 3, 4, 5), 7)
    assert listing.decode(listing.encode(pos), key) == pos
    assert listing.decode(listing.encode(listing.Position(1, None, 9)), key) == listing.Position(1, None, 9)
    for junk in ("", "x", "%%%", "W10", listing.encode(listing.Position(0, "a", 1))):
        assert listing.decode(junk, key) is None
    assert listing.decode(listing.encode(listing.Position(1, None, 1)), listing.SORTS["login"]) is None


def test_parse_request_defaults():
    req = listing.parse_request({"sort": "last_sign_in", "q": " \x00abc\t "})
    assert req.sort == "last_sign_in" and req.desc is True and req.q == "abc" and req.number == 1
    assert listing.parse_request({"sort": "nope", "dir": "up"}).sort == "login"


def test_capped_count(crowd):
    assert listing.capped_count(tenant_users(crowd), 100) == 25
    assert listing.capped_count(tenant_users(crowd), 10) == 11  # "more than 10"
    page = listing.users_page(tenant_users(crowd), crowd.id, listing.ListRequest(), 5)
    assert page.total == 25 and not page.total_capped


# --- search -----------------------------------------------------------------------------------

def found(tenant, q: str) -> set[str]:
    """Logins the list shows for a search (all pages)."""
    page = listing.users_page(tenant_users(tenant), tenant.id, listing.ListRequest(q=q), 1000)
    return {u.login for u in page.items}


def test_search_modes_agree(crowd, monkeypatch):
    assert search.fts_available()
    assert search.user_filter("bob", crowd.id).mode == "fts"
    assert search.user_filter("bo", crowd.id).mode == "prefix"
    fts = found(crowd, "bob")
    assert fts == {"u01-Bob", "u19-Bob", "u20-bob"}
    monkeypatch.setattr(search, "SELECTIVE_LIMIT", 2)
    assert search.user_filter("bob", crowd.id).broad and found(crowd, "bob") == fts
    monkeypatch.setattr(search, "fts_available", lambda: False)
    assert search.user_filter("bob", crowd.id).mode == "contains" and found(crowd, "bob") == fts


def test_short_terms_match_the_beginning(crowd):
    assert found(crowd, "u0") == {f"u0{i}-{n}" for i, n in enumerate(
        ["alice", "Bob", "carol", "Dave", "eve", "Frank", "grace", "Heidi", "ivan", "Judy"])}
    assert found(crowd, "ZE") == {"u22-zed"}  # the name and email start with it
    assert found(crowd, "ed") == set()  # not a prefix of anything


def test_search_stays_inside_the_tenant(people, factory):
    factory.user(people["tenant_b"], "bob-of-fabrikam", email="bob@fabrikam.com")
    factory.user(people["tenant_a"], "bob-of-contoso")
    assert found(people["tenant_a"], "bob-of") == {"bob-of-contoso"}
    assert found(people["tenant_a"], "fabrikam") == set()


def test_the_search_index_follows_changes(people, factory):
    user = factory.user(people["tenant_a"], "before-name", display_name="Quentin Blake")
    assert found(people["tenant_a"], "quentin") == {"before-name"}
    user.set_login("after-name")
    user.set_email("after-name@contoso.com")
    user.display_name = "Roald Dahl"
    db.session.commit()
    assert found(people["tenant_a"], "quentin") == set()
    assert found(people["tenant_a"], "dahl") == {"after-name"}
    assert found(people["tenant_a"], "before") == set()
    db.session.delete(user)
    db.session.commit()
    assert found(people["tenant_a"], "dahl") == set()


@pytest.mark.parametrize("q", ['"', '""', "a\"b", "%", "_", "o'b", "NEAR(", "*", "user-a OR admin", "-a"])
def test_odd_search_text_is_taken_literally(people, q):
    assert found(people["tenant_a"], q) <= {"user-a", "admin-a"}
    assert found(people["tenant_a"], "user-a OR admin") == set()
