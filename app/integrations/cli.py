"""`flask integrations create|list`: the same validation as the form; secrets never printed."""
from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from ..accounts import ValidationFailed, tenant_by_slug
from ..extensions import db
from ..models import CLOUDS, Integration
from . import clouds, connections
from .service import IntegrationInput, create_integration

integrations_cli = AppGroup("integrations", help="Manage Microsoft integrations (Entra app registrations).")
# The form's field names, as the options that set them are spelled.
OPTION_NAMES = {"name": "--name", "client_id": "--client-id", "client_secret": "--client-secret",
                "cloud": "--cloud", "authority_url": "--authority", "graph_endpoint": "--graph-endpoint",
                "ca_bundle": "--ca-bundle", "app_domain": "--app-domain", "description": "--description"}


@integrations_cli.command("create")
@click.option("--name", required=True, help="Shown to administrators and on the sign-in page.")
@click.option("--client-id", required=True, help="Application (client) ID of the app registration.")
@click.option("--client-secret", help="The secret's Value; prompted for (hidden) when omitted.")
@click.option("--cloud", type=click.Choice(CLOUDS), default="public", show_default=True)
@click.option("--authority", default="", help="Custom cloud only: the authority's https:// URL.")
@click.option("--graph-endpoint", default="", help="Custom cloud only, optional: the Graph base URL.")
@click.option("--ca-bundle", default="", help="Custom cloud only, optional: a PEM file on this server.")
@click.option("--app-domain", default="", help="The portal's public host (default: SERVER_NAME).")
@click.option("--auto-activate/--no-auto-activate", default=False, help="Auto-Activate SSO.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@click.option("--description", default="")
@click.option("--tenant", "tenant_slug",
              help="Owning tenant's slug; without it the integration is system-wide.")
def create(name, client_id, client_secret, cloud, authority, graph_endpoint, ca_bundle, app_domain,
           auto_activate, disabled, description, tenant_slug) -> None:
    """Create an integration (system-wide unless --tenant is given)."""
    owner = None
    if tenant_slug:
        owner = tenant_by_slug(tenant_slug)
        if owner is None:
            raise click.ClickException(f"No tenant has the slug {tenant_slug!r}.")
    if client_secret is None:
        client_secret = click.prompt("Client secret", hide_input=True)
    data = IntegrationInput(
        name=name, client_id=client_id, client_secret=client_secret, cloud=cloud,
        authority_url=authority, graph_endpoint=graph_endpoint,
        # Relative paths mean "from here" on a command line; the form insists on full paths.
        ca_bundle=os.path.abspath(ca_bundle) if ca_bundle.strip() else "",
        app_domain=app_domain or current_app.config.get("SERVER_NAME") or "",
        auto_activate=auto_activate, enabled=not disabled, description=description)
    try:
        integration = create_integration(data, owner=owner)
    except ValidationFailed as exc:
        db.session.rollback()
        raise click.ClickException("Integration not created:\n" + "\n".join(
            f"  {OPTION_NAMES.get(field, field)}: {message}" for field, message in exc.errors.items()))
    db.session.commit()
    where = f"owned by tenant {owner.slug!r}" if owner else "system-wide"
    click.echo(f"Created integration {integration.name!r} (id {integration.id}), {where}.")
    click.echo(f"Register this redirect URI in Entra ID: {clouds.redirect_uri(integration)}")


@integrations_cli.command("list")
def list_integrations() -> None:
    """List integrations with their settings (never their secrets)."""
    rows = list(db.session.scalars(select(Integration).order_by(Integration.id)))
    if not rows:
        click.echo("No integrations yet. Create one with `flask integrations create`.")
        return
    counts = connections.connection_counts((i.id for i in rows), None)
    for i in rows:
        try:
            authority = clouds.authority_base(i)
        except (clouds.CloudError, KeyError):
            authority = "(invalid)"
        owner = i.owner_tenant.slug if i.owner_tenant else "system-wide"
        click.echo(f"{i.id}  {i.name}")
        click.echo(f"    owner: {owner}  cloud: {i.cloud}  authority: {authority}")
        click.echo(f"    client id: {i.client_id}  app domain: {i.app_domain or '-'}")
        click.echo(f"    auto-activate: {'yes' if i.auto_activate else 'no'}  "
                   f"enabled: {'yes' if i.enabled else 'no'}  connections: {counts.get(i.id, 0)}")
