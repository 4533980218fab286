"""The audit log page: tenant scope, filters, keyset pages, before/after and sign-in reasons."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from app.extensions import db
from app.models import AuditEvent

from .conftest import sign_in

AUDIT = "/admin/audit/"
T0 = dt.datetime(2026, 3, 1, 9, 0)


def ev(tenant, action="user.updated", *, actor="admin-a", target="user-a", details=None, at=T0):
    """An audit row inserted directly (the log is append-only data)."""
    event = AuditEvent(tenant_id=tenant.id if tenant else None, action=action, actor_label=actor,
                       target_label=target, details=details or {}, created_at=at)
    db.session.add(event)
    db.session.commit()
    return event


def actions_on(body: str) -> list[str]:
    return re.findall(r'<tr data-action="([^"]+)"', body)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_only_admins_of_the_tenant(client, people, login):
    assert client.get(AUDIT).status_code == 302
    login("user-a")
    assert client.get(AUDIT).status_code == 403


def test_tenant_admin_sees_only_their_tenant(client, people, login):
    ev(people["tenant_a"], "a.only")
    ev(people["tenant_b"], "b.only", actor="admin-b", target="user-b")
    ev(None, "installation.only", actor="provider", target="")
    login("admin-a")
    body = text(client.get(AUDIT, query_string={"scope": "installation"}))  # not for tenant admins
    assert "a.only" in actions_on(body)
    assert "b.only" not in body and "installation.only" not in body
    assert '<li class="breadcrumb-item active" aria-current="page">Audit log</li>' in body


def test_service_provider_sees_the_chosen_tenant_or_the_installation(client, people, login):
    ev(people["tenant_a"], "a.only")
    ev(people["tenant_b"], "b.only")
    ev(None, "installation.only", actor="provider", target="")
    login("provider")
    assert "/admin/tenants" in client.get(AUDIT).headers["Location"]  # choose a tenant first
    client.post(f"/admin/tenants/{people['tenant_b'].id}/manage")
    assert "b.only" in actions_on(text(client.get(AUDIT)))
    assert "a.only" not in text(client.get(AUDIT))
    body = text(client.get(AUDIT, query_string={"scope": "installation"}))
    assert "installation.only" in actions_on(body) and "b.only" not in actions_on(body)
    assert "The installation (no tenant)" in body


def test_filters_by_action_actor_user_and_dates(client, people, login, frozen_clock):
    frozen_clock(dt.datetime(2025, 1, 1, 9, 0))  # the admin's own sign-in event is out of the way
    a = people["tenant_a"]
    ev(a, "sign_in.password", actor="user-a", target="user-a", at=T0)
    ev(a, "sign_in.refused", actor="user-a", target="user-a", at=T0 + dt.timedelta(days=1))
    ev(a, "sign_in_other", actor="x", target="x", at=T0)  # "sign_in" must not match it
    ev(a, "policy.updated", actor="admin-a", target="Password Policy", at=T0 + dt.timedelta(days=2))
    ev(a, "user.updated", actor="Admin-A", target="megan", at=T0 + dt.timedelta(days=3))
    login("admin-a")

    def shown(**args):
        args.setdefault("date_from", "2026-01-01")
        return sorted(actions_on(text(client.get(AUDIT, query_string=args))))

    assert shown(action="sign_in") == ["sign_in.password", "sign_in.refused"]
    assert shown(action="sign_in.refused") == ["sign_in.refused"]
    assert shown(actor="admin") == ["policy.updated", "user.updated"]  # starts with, case ignored
    assert shown(user="meg") == ["user.updated"]
    assert shown(date_from="2026-03-02", date_to="2026-03-03") == ["policy.updated", "sign_in.refused"]
    assert shown(date_to="2026-03-01") == ["sign_in.password", "sign_in_other"]
    assert shown(actor="%") == []  # wildcards are literal
    assert "sign_in.password" in shown(date_from="", actor="admin-a")  # the admin's sign-in, in 2025


def test_a_bad_date_is_a_message_not_an_error(client, people, login):
    ev(people["tenant_a"], "a.only")
    login("admin-a")
    response = client.get(AUDIT, query_string={"date_from": "01/03/2026", "date_to": "2026-02-30"})
    assert response.status_code == 200
    body = text(response)
    assert body.count("Enter a date as yyyy-mm-dd.") == 2 and "a.only" in body
    response = client.get(AUDIT, query_string={"date_from": "2026-03-05", "date_to": "2026-03-01"})
    assert "The end date is before the start date." in text(response)


def test_keyset_pages_newest_first(client, people, login):
    a = people["tenant_a"]
    for i in range(60):
        ev(a, f"bulk.e{i:02d}", at=T0 + dt.timedelta(minutes=i))
    login("admin-a")
    first = text(client.get(AUDIT, query_string={"action": "bulk"}))
    assert actions_on(first) == [f"bulk.e{i:02d}" for i in range(59, 34, -1)]
    older = re.search(r'href="(/admin/audit/\?before=\d+[^"]*)">Older', first).group(1).replace("&amp;", "&")
    assert "action=bulk" in older
    second = text(client.get(older))
    assert actions_on(second) == [f"bulk.e{i:02d}" for i in range(34, 9, -1)]
    third = text(client.get(re.search(r'href="([^"]*before=\d+[^"]*)">Older', second).group(1).replace("&amp;", "&")))
    assert actions_on(third) == [f"bulk.e{i:02d}" for i in range(9, -1, -1)]
    assert 'class="page-item disabled">\n      <a class="page-link" href="#">Older' in third
    newer = re.search(r'href="([^"]*after=\d+[^"]*)">Newer', third).group(1).replace("&amp;", "&")
    assert actions_on(text(client.get(newer))) == actions_on(second)


def test_policy_change_shows_before_and_after(client, people, login):
    login("admin-a")
    client.post("/admin/user-authentication/password-policy/edit", data={
        "version": "1", "sso_mode": "enabled", "min_length": "14", "require_upper": "y", "require_lower": "y",
        "require_digit": "y", "max_failed_attempts": "5", "lockout_minutes": "15"})
    body = text(client.get(AUDIT, query_string={"action": "policy"}))
    assert actions_on(body) == ["policy.updated"]
    assert re.search(r"Minimum password length</th><td>10</td><td>14</td>", body)


def test_sso_settings_show_in_words(client, people, login):
    ev(people["tenant_a"], "sso.reset", actor="server console", target="Contoso Call Center",
       details={"before": {"sso_mode": "mandatory", "restricted_domains": ["contoso.com"]},
                "after": {"sso_mode": "enabled", "restricted_domains": []}})
    login("admin-a")
    body = text(client.get(AUDIT))
    assert "Single Sign-On</th><td>Mandatory</td><td>Enabled</td>" in body
    assert "Restricted domains</th><td>contoso.com</td><td>none</td>" in body


def test_sign_in_decisions_show_method_and_reason(client, people, login):
    sign_in(client, "user-a", "wrong-password")
    login("admin-a")
    body = text(client.get(AUDIT, query_string={"action": "sign_in.refused"}))
    assert actions_on(body) == ["sign_in.refused"]
    assert "Password · <code>bad_password</code>" in body and "The password was wrong." in body
    assert "wrong-password" not in body


@pytest.mark.parametrize("args", [{"before": "x"}, {"after": "-1"}, {"before": "99999999999"}])
def test_junk_cursors_do_not_break_the_page(client, people, login, args):
    ev(people["tenant_a"], "a.only")
    login("admin-a")
    assert client.get(AUDIT, query_string=args).status_code == 200


def test_keyset_pages_break_ties_of_one_second_by_id(client, people, login):
    for i in range(30):
        ev(people["tenant_a"], f"tie.e{i:02d}", at=T0)  # a burst within one timestamp
    login("admin-a")
    first = text(client.get(AUDIT, query_string={"action": "tie"}))
    assert actions_on(first) == [f"tie.e{i:02d}" for i in range(29, 4, -1)]
    older = re.search(r'href="([^"]*before=\d+[^"]*)">Older', first).group(1).replace("&amp;", "&")
    assert actions_on(text(client.get(older))) == [f"tie.e{i:02d}" for i in range(4, -1, -1)]
