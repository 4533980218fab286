"""`flask demo`: the offline sales demo — the portal and the Entra ID emulator, seeded.

Both run in this one process on threaded servers (a portal calling an emulator served by the
same single-threaded server would deadlock). Ctrl-C stops both.
"""
from __future__ import annotations

import threading

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from werkzeug.serving import make_server

from . import crypto
from .accounts import NewUser, create_tenant, create_user, tenant_by_slug
from .extensions import db
from .models import ROLE_SYSTEM_ADMIN, ROLE_TENANT_ADMIN, ROLE_USER, Integration, User

DEMO_PASSWORD = "Contoso-Demo-1"
PROVIDER_PASSWORD = "Provider-Demo-1"

# (tenant slug, login, email, name, role)
PEOPLE = [
    ("contoso", "megan", "megan@contoso.com", "Megan Bowen", ROLE_TENANT_ADMIN),
    ("contoso", "alex", "alex@contoso.com", "Alex Wilber", ROLE_USER),
    ("contoso", "diego", "diego@contoso.com", "Diego Siciliani", ROLE_USER),
    ("contoso", "lee", "lee@contoso.com", "Lee Gu", ROLE_USER),
    ("contoso", "adele", "adele@contoso.com", "Adele Vance", ROLE_USER),
    ("contoso", "jordan", "jordan@northwind.example", "Jordan Reyes (contractor)", ROLE_USER),
    ("fabrikam", "fiona", "fiona@fabrikam.com", "Fiona Grant", ROLE_TENANT_ADMIN),
    ("fabrikam", "ben", "ben@fabrikam.com", "Ben Carter", ROLE_USER),
]
TENANTS = {"contoso": "Contoso Call Center", "fabrikam": "Fabrikam Support"}


def seed(emulator, app_origin: str) -> Integration:
    """Create (once) the demo tenants, people and the system-wide integration; point it at the emulator."""
    from .emulator.state import EmulatorState  # noqa: F401  (the emulator package must be present)

    for slug, name in TENANTS.items():
        if tenant_by_slug(slug) is None:
            create_tenant(name, slug)
    if db.session.scalar(select(User.id).where(User.login_key == "provider")) is None:
        create_user(None, NewUser("provider", "ops@provider.example", "Service Provider", ROLE_SYSTEM_ADMIN,
                                  password=PROVIDER_PASSWORD))
    for slug, login, email, name, role in PEOPLE:
        if db.session.scalar(select(User.id).where(User.login_key == login)) is None:
            create_user(tenant_by_slug(slug), NewUser(login, email, name, role, password=DEMO_PASSWORD))
    app = emulator.state.apps()[0]
    integration = db.session.scalars(select(Integration).where(Integration.owner_tenant_id.is_(None),
                                                               Integration.name == "Microsoft")).first()
    if integration is None:
        integration = Integration(name="Microsoft", client_id=app["client_id"], cloud="custom",
                                  description="Log in to the application with your Microsoft account credentials")
        db.session.add(integration)
    # The emulator's ports and certificate may change between runs: follow them.
    integration.authority_url = emulator.https_base
    integration.ca_bundle = str(emulator.ca_bundle)
    integration.graph_endpoint = emulator.https_base
    integration.app_domain = app_origin
    integration.client_secret_enc = crypto.encrypt(app["client_secret"])
    db.session.commit()
    emulator.state.add_redirect_uri(app["client_id"], f"{app_origin}/auth/microsoft/callback")
    return integration


def banner(url: str, emulator) -> str:
    """What the presenter needs: URLs, logins and a short walk through the guide."""
    people = "\n".join(f"    {login:<8} {role.replace('_', ' '):<13} {email}" for _, login, email, _, role in PEOPLE)
    return f"""
  Call Recording portal (offline demo):  {url}
  Entra ID emulator presenter page:      {emulator.presenter_url}

  Logins (password {DEMO_PASSWORD}; service provider: provider / {PROVIDER_PASSWORD}):
{people}

  Walk the guide:
    1. Sign in as megan. Administration > System > Integrations > Microsoft > Connections >
       + Add Connection > Continue; pick Megan Bowen, tick "Consent on behalf of your
       organization", Accept; Step 2: Automatic activation on > Continue; Step 3 shows Connected.
    2. Sign out; Sign in with Microsoft as Alex Wilber: automatic activation links alex.
    3. As megan: Administration > User Authentication > Password Policy > Edit Configuration:
       add restricted domain contoso.com (jordan loses SSO), then Single Sign-On: Mandatory.
    4. alex's password sign-in is now refused; Microsoft sign-in works. The presenter page can
       revoke consent, change an email or disable a user to show the safeguards.
    5. Sign in as fiona and add a connection for Fabrikam as Ben Carter: "Approval required";
       grant admin consent as Fiona Grant and the wizard finishes.
    6. Break glass: as provider, Tenants > Reset SSO settings (or `flask sso reset contoso`).

  Press Ctrl-C to stop both servers.
"""


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--emulator-https-port", default=8443, show_default=True, type=int)
@click.option("--emulator-http-port", default=8080, show_default=True, type=int)
@with_appcontext
def demo(host: str, port: int, emulator_https_port: int, emulator_http_port: int) -> None:
    """Start the offline demo: initialise and seed, then serve the portal and the emulator."""
    from flask_migrate import upgrade

    from .emulator import EmulatorServer

    app = current_app._get_current_object()
    upgrade()
    try:
        emulator = EmulatorServer(app.instance_path, host=host, https_port=emulator_https_port,
                                  http_port=emulator_http_port, log_requests=False).start()
    except OSError as exc:
        raise click.ClickException(f"The emulator cannot listen on ports {emulator_https_port}/{emulator_http_port} "
                                   f"({exc.strerror}): pass --emulator-https-port and --emulator-http-port.")
    url = f"http://{host}:{port}"
    try:
        seed(emulator, url)
        try:
            server = make_server(host, port, app, threaded=True)
        except OSError as exc:
            raise click.ClickException(f"The portal cannot listen on port {port} ({exc.strerror}): pass --port.")
        click.echo(banner(url, emulator))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("\nStopping the portal and the emulator.")
    finally:
        emulator.stop()
