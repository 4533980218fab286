"""The yardstick of DESIGN §8: a plain Flask page rendering a template with a 25-row table.

Served by `gunicorn -w 2 yardstick:app` (bench/run.py starts it on 127.0.0.1). One extra route,
POST /login, is the werkzeug-scrypt sign-in baseline: it verifies the posted password with
werkzeug.security.check_password_hash against a default generate_password_hash (scrypt), so the
portal's Argon2id sign-in and the baseline are both measured as an HTTP form POST.
No database, no sessions, nothing else: this is what "a plain Flask app" costs on this machine.
"""
from __future__ import annotations

import datetime as dt

from flask import Flask, abort, render_template, request
from jinja2 import DictLoader
from werkzeug.security import check_password_hash, generate_password_hash

PASSWORD = "Correct-Horse-9"

TEMPLATES = {
    "base.html": """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{% block title %}{% endblock %} · Yardstick</title></head>
<body>
<header><nav><a href="/">Home</a></nav></header>
<main>{% block content %}{% endblock %}</main>
</body>
</html>
""",
    "table.html": """{% extends "base.html" %}
{% block title %}Users{% endblock %}
{% block content %}
<h1>Users</h1>
<table>
  <thead><tr><th>Login</th><th>Name</th><th>Email</th><th>Role</th><th>Last sign-in</th></tr></thead>
  <tbody>
  {% for row in rows %}
  <tr>
    <td><a href="/users/{{ row.id }}">{{ row.login }}</a></td>
    <td>{{ row.name }}</td>
    <td>{{ row.email }}</td>
    <td>{{ row.role }}</td>
    <td>{{ row.last_sign_in.strftime("%Y-%m-%d %H:%M") }}</td>
  </tr>
  {% endfor %}
  </tbody>
</table>
{% endblock %}
""",
}

app = Flask(__name__)
app.jinja_loader = DictLoader(TEMPLATES)

_STARTED = dt.datetime(2026, 1, 1)
ROWS = [{"id": i, "login": f"user.{i:06d}", "name": f"User {i}", "email": f"user.{i:06d}@contoso.com",
         "role": "User", "last_sign_in": _STARTED + dt.timedelta(minutes=i)} for i in range(25)]

# werkzeug's default method (scrypt:32768:8:1 in Werkzeug 3.x), computed once per worker.
_HASH = generate_password_hash(PASSWORD)


@app.get("/")
def table():
    """The yardstick page: a template with a 25-row table."""
    return render_template("table.html", rows=ROWS)


@app.post("/login")
def scrypt_login():
    """The scrypt sign-in baseline: one werkzeug check_password_hash per request."""
    if not check_password_hash(_HASH, request.form.get("password", "")):
        abort(403)
    return "signed in"
