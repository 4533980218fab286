"""Serving the emulator: one HTTPS back channel and one plain-HTTP front channel over the same state."""
import os
import ssl
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from . import create_emulator_app
from .keys import ensure_tls_material
from .state import EmulatorState

# Hosts that mean "every interface"; URLs handed out must still name the loopback address.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


class EmulatorServer:
    """Two threaded werkzeug servers in daemon threads; TLS material and directory in the instance dir."""

    def __init__(self, instance_dir, host="127.0.0.1", https_port=0, http_port=0, log_requests=True):
        """Prepare (not start) the servers; port 0 picks a free ephemeral port."""
        self.instance_dir = os.path.abspath(instance_dir)
        self.host = host
        self._handler = WSGIRequestHandler if log_requests else _QuietHandler
        self._ports = (https_port, http_port)
        self.state = EmulatorState(self.instance_dir)
        self._servers = []
        self._threads = []
        self.https_base = self.http_base = None
        self.ca_bundle = None

    def _url_host(self):
        """The host to put in URLs (loopback when listening on every interface)."""
        host = "127.0.0.1" if self.host in WILDCARD_HOSTS else self.host
        return f"[{host}]" if ":" in host else host

    def start(self):
        """Bind both ports, build the app with the real base URLs, and serve in background threads."""
        if self._servers:
            return self
        folder = os.path.join(self.instance_dir, "emulator")
        self.ca_bundle, cert, key = ensure_tls_material(folder)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(cert, key)
        # Bind first with a placeholder app: the base URLs are only known once the ports are.
        https = make_server(self.host, self._ports[0], _placeholder, threaded=True, ssl_context=context,
                            request_handler=self._handler)
        http = make_server(self.host, self._ports[1], _placeholder, threaded=True,
                           request_handler=self._handler)
        self.https_base = f"https://{self._url_host()}:{https.server_port}"
        self.http_base = f"http://{self._url_host()}:{http.server_port}"
        self.app = create_emulator_app(self.state, self.https_base, self.http_base)
        for server in (https, http):
            server.app = self.app
            thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                      name=f"entra-emulator-{server.server_port}", daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self):
        """Stop serving and release both ports."""
        for server in self._servers:
            server.shutdown()
        for server in self._servers:
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def authority(self, tenant="organizations"):
        """The MSAL authority URL for a tenant segment (an org's tid, organizations or common)."""
        return f"{self.https_base}/{tenant}"

    @property
    def presenter_url(self):
        """The presenter page on the front channel."""
        return f"{self.http_base}/_presenter"

    def __enter__(self):
        """Start on entering a with-block."""
        return self.start()

    def __exit__(self, *exc):
        """Stop on leaving a with-block."""
        self.stop()


class _QuietHandler(WSGIRequestHandler):
    """A request handler that does not log each request (tests)."""

    def log_request(self, *args, **kwargs):
        """Skip the access log line."""


def _placeholder(environ, start_response):
    """Answers 503 in the instant between binding a port and installing the app."""
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


def serve_forever(instance_dir, host="127.0.0.1", https_port=8443, http_port=8080, announce=print,
                  stop=None):
    """Run the emulator in the foreground until Ctrl-C (or until the `stop` event is set)."""
    server = EmulatorServer(instance_dir, host=host, https_port=https_port, http_port=http_port).start()
    announce(f"Entra ID emulator authority: {server.authority('organizations')}")
    announce(f"  CA bundle (trust it in the portal): {server.ca_bundle}")
    announce(f"  Presenter page: {server.presenter_url}")
    announce(f"  Front channel (browser pages): {server.http_base}")
    announce(f"  Directory: {server.state.path}")
    stop = stop or threading.Event()
    try:
        stop.wait()
    except KeyboardInterrupt:
        announce("Stopping the Entra ID emulator.")
    finally:
        server.stop()
    return server
