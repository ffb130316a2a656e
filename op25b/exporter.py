"""The metrics endpoint: prometheus_client's WSGI app behind optional TLS and basic auth.

prometheus_client's start_http_server does TLS but (in 0.2x) not basic auth, so the same pieces
are assembled here: a threading WSGI server, the app wrapped in an auth check, and the listening
socket wrapped in an SSLContext. Request logging is off: no log line per scrape.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import socket
import ssl
import threading
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from .config import Metrics
from .errors import ConfigError, Where

log = logging.getLogger("op25b.exporter")


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a hung scrape must not keep the daemon from exiting

    def handle_error(self, request, client_address) -> None:
        # socketserver prints a traceback to stderr (a plain-HTTP client on the TLS port, a scanner);
        # one debug line is enough, and the journal stays one line per event.
        import sys

        log.debug("metrics: request from %s failed: %s", client_address[0], sys.exc_info()[1])


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's signature
        pass


def read_password(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(Where(path), f"cannot read metrics.basic_auth.password_file: {exc.strerror}",
                          "create it (one line, the password) readable by the op25b user only") from None


def basic_auth(app, username: str, password: str):
    """Wrap a WSGI app: 401 unless the request carries these credentials."""
    expected_user, expected_password = username.encode(), password.encode()

    def check(environ, start_response):
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user, _, given = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            user, given = b"", b""
        # Both comparisons always run, in constant time: no hint which half was wrong.
        user_ok = hmac.compare_digest(user, expected_user)
        password_ok = hmac.compare_digest(given, expected_password)
        if scheme.lower() == "basic" and user_ok and password_ok:
            return app(environ, start_response)
        start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="op25b"'),
                                             ("Content-Type", "text/plain")])
        return [b"401 Unauthorized\n"]

    return check


def tls_context(settings: Metrics, config_path: str = "") -> ssl.SSLContext | None:
    cert, key = settings.tls_cert_file, settings.tls_key_file
    if not cert and not key:
        return None
    if not cert or not key:
        missing = "metrics.tls_key_file" if cert else "metrics.tls_cert_file"
        raise ConfigError(Where(config_path, missing), f"TLS needs both a certificate and a key; {missing} is missing")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(Where(cert), f"cannot load the metrics TLS certificate and key: {exc}",
                          "check both files exist, match, and are readable by the op25b user") from None
    return context


class MetricsServer:
    """The endpoint, started in a background thread; `stop()` closes it."""

    def __init__(self, settings: Metrics, registry: CollectorRegistry, config_path: str = "") -> None:
        self.settings = settings
        app = make_wsgi_app(registry)
        if settings.basic_auth_username:
            if not settings.basic_auth_password_file:
                raise ConfigError(Where(config_path, "metrics.basic_auth"), "basic_auth needs a password_file")
            app = basic_auth(app, settings.basic_auth_username, read_password(settings.basic_auth_password_file))
        context = tls_context(settings, config_path)
        if settings.basic_auth_username and context is None and settings.listen_host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("metrics: basic auth without TLS sends the password in clear text; "
                        "set metrics.tls_cert_file and metrics.tls_key_file")
        server_class = _Server6 if ":" in settings.listen_host else _Server
        try:
            self._server = make_server(settings.listen_host, settings.listen_port, app, server_class, _QuietHandler)
        except OSError as exc:
            raise ConfigError(Where(config_path, "metrics.listen"), f"cannot listen on {self.address}: {exc.strerror}",
                              "pick a free HOST:PORT (default 127.0.0.1:9025)") from None
        if context is not None:
            # The handshake runs in the request's thread, so a slow client cannot stall accept().
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self.scheme = "https" if context else "http"
        self._thread = threading.Thread(target=self._server.serve_forever, name="op25b-metrics", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        """The bound port (differs from the configured one only when that is 0, in tests)."""
        server = getattr(self, "_server", None)
        return server.server_port if server is not None else self.settings.listen_port

    @property
    def address(self) -> str:
        host = self.settings.listen_host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
