"""`flask` commands for on-premises installs and scripts (found through wsgi.py)."""
from __future__ import annotations


import click
from flask import Flask
from flask.cli import AppGroup

from . import optional_module
from .accounts import NewUser, ValidationFailed, create_tenant, create_user, tenant_by_slug
from .extensions import db
from .models import ROLE_SYSTEM_ADMIN, ROLES

tenants_cli = AppGroup("tenants", help="Manage tenants.")
users_cli = AppGroup("users", help="Manage users.")


def fail(message: str) -> None:
    """Print an error and exit with status 1."""
    raise click.ClickException(message)


def _errors(exc: ValidationFailed) -> str:
    return "\n".join(f"  {field}: {message}" for field, message in exc.errors.items())


@click.command("init-db")
def init_db() -> None:
    """Create the database schema, or upgrade it to the latest version (safe to repeat)."""
    from flask_migrate import upgrade

    upgrade()
    click.echo("Database is up to date.")


@tenants_cli.command("create")
@click.argument("name")
@click.option("--slug", help="Short identifier; defaults to the name, lower-cased and hyphenated.")
def tenants_create(name: str, slug: str | None) -> None:
    """Create a tenant."""
    try:
        tenant = create_tenant(name, slug)
    except ValidationFailed as exc:
        db.session.rollback()
        fail("Tenant not created:\n" + _errors(exc))
    db.session.commit()
    click.echo(f"Created tenant {tenant.name!r} with slug {tenant.slug!r}.")


@users_cli.command("create")
@click.option("--tenant", "tenant_slug", help="Tenant slug (not for system_admin).")
@click.option("--login", required=True)
@click.option("--email", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password", help="Prompted for when omitted.")
def users_create(tenant_slug, login, email, display_name, role, password) -> None:
    """Create a user (a system_admin takes no tenant)."""
    tenant = None
    if role == ROLE_SYSTEM_ADMIN:
        if tenant_slug:
            fail("A system_admin belongs to no tenant: leave out --tenant.")
    else:
        if not tenant_slug:
            fail(f"--tenant is required for role {role}.")
        tenant = tenant_by_slug(tenant_slug)
        if tenant is None:
            fail(f"No tenant has the slug {tenant_slug!r}. See the slugs with the Tenants page.")
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(tenant, NewUser(login=login.strip(), email=email.strip(),
                                           display_name=display_name, role=role, password=password))
    except ValidationFailed as exc:
        db.session.rollback()
        fail("User not created:\n" + _errors(exc))
    db.session.commit()
    where = f" in tenant {tenant.slug!r}" if tenant else ""
    click.echo(f"Created {role} {user.login!r}{where}.")


def register(app: Flask) -> None:
    """Attach the commands; areas built later add theirs when present."""
    app.cli.add_command(init_db)
    app.cli.add_command(tenants_cli)
    app.cli.add_command(users_cli)
    for module_name, attr in OPTIONAL_COMMANDS:
        module = optional_module(module_name)
        if module is not None:
            app.cli.add_command(getattr(module, attr))


# Commands of areas built by later work: (module, click command attribute).
OPTIONAL_COMMANDS = (
    ("app.emulator.cli", "emulator_cli"),
    ("app.password_policy.cli", "sso_cli"),
    ("app.integrations.cli", "integrations_cli"),
    ("app.demo", "demo"),
)
