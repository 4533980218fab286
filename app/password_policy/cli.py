"""`flask sso reset TENANT_SLUG`: the break-glass reset from the server console."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..accounts import tenant_by_slug
from ..extensions import db
from ..models import SSO_MODE_LABELS
from .service import CONSOLE, reset_sso

sso_cli = AppGroup("sso", help="Single sign-on settings of tenants.")


@sso_cli.command("reset")
@click.argument("tenant_slug")
def reset(tenant_slug: str) -> None:
    """Set a tenant's Single Sign-On back to Enabled and clear its restricted domains."""
    tenant = tenant_by_slug(tenant_slug.strip())
    if tenant is None:
        raise click.ClickException(
            f"No tenant has the slug {tenant_slug!r}; nothing was changed. "
            "The Tenants page lists the slugs.")
    before = reset_sso(tenant, actor=CONSOLE)
    db.session.commit()
    domains = ", ".join(before["restricted_domains"]) or "none"
    click.echo(f"Reset SSO settings of tenant {tenant.name!r} ({tenant.slug}): Single Sign-On is now "
               f"Enabled and restricted domains are cleared. Before: Single Sign-On "
               f"{SSO_MODE_LABELS.get(before['sso_mode'], before['sso_mode'])}, restricted domains {domains}.")
