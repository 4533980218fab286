"""`flask emulator run`: serve the Entra ID emulator from the command line."""
import os

import click
from flask.cli import AppGroup, ScriptInfo

from .server import serve_forever

emulator_cli = AppGroup("emulator", help="The offline Microsoft Entra ID emulator (demo and tests).")


def _default_instance_dir():
    """The portal's instance folder when the portal app loads, else ./instance."""
    info = click.get_current_context().find_object(ScriptInfo)
    if info is not None:
        try:
            return info.load_app().instance_path
        except Exception:  # noqa: BLE001 - the emulator must run even if the portal cannot load
            pass
    return os.path.join(os.getcwd(), "instance")


@emulator_cli.command("run", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--https-port", default=8443, show_default=True, type=int,
              help="Back channel: discovery, token, keys, Graph (MSAL requires https).")
@click.option("--http-port", default=8080, show_default=True, type=int,
              help="Front channel: sign-in pages and the presenter page (no certificate warning).")
@click.option("--instance", "instance_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for TLS material and the directory (default: the portal's instance folder).")
def run(host, https_port, http_port, instance_dir):
    """Serve the emulator until Ctrl-C, printing the authority, CA bundle and presenter page."""
    serve_forever(instance_dir or _default_instance_dir(), host=host, https_port=https_port,
                  http_port=http_port, announce=click.echo)
