"""The metrics endpoint on loopback: plain, basic auth, TLS, and both; no request log lines."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Gauge

from op25b.config import Metrics
from op25b.errors import ConfigError
from op25b.exporter import MetricsServer


@pytest.fixture
def registry():
    registry = CollectorRegistry()
    Gauge("op25b_up", "test", registry=registry).set(1)
    return registry


@pytest.fixture
def certificate(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


def get(url: str, auth: tuple[str, str] | None = None, cafile=None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@pytest.fixture
def serve(registry):
    started = []

    def start(**settings) -> MetricsServer:
        server = MetricsServer(Metrics(listen_host="127.0.0.1", listen_port=0, **settings), registry)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_plain_http_serves_metrics(serve):
    server = serve()
    status, body = get(f"http://{server.address}/metrics")
    assert status == 200 and "op25b_up 1.0" in body


def test_basic_auth_refuses_wrong_or_missing_credentials(serve, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("s3cret\n")
    server = serve(basic_auth_username="prometheus", basic_auth_password_file=str(secret))
    url = f"http://{server.address}/metrics"
    assert get(url)[0] == 401
    assert get(url, ("prometheus", "wrong"))[0] == 401
    assert get(url, ("other", "s3cret"))[0] == 401
    status, body = get(url, ("prometheus", "s3cret"))
    assert status == 200 and "op25b_up" in body


def test_tls_with_basic_auth(serve, tmp_path, certificate):
    cert, key = certificate
    secret = tmp_path / "password"
    secret.write_text("s3cret")
    server = serve(tls_cert_file=str(cert), tls_key_file=str(key), basic_auth_username="prometheus",
                   basic_auth_password_file=str(secret))
    assert server.scheme == "https"
    status, body = get(f"https://{server.address}/metrics", ("prometheus", "s3cret"), cafile=cert)
    assert status == 200 and "op25b_up" in body
    assert get(f"https://{server.address}/metrics", cafile=cert)[0] == 401
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        get(f"http://{server.address}/metrics")  # no plain HTTP on a TLS endpoint


def test_half_configured_tls_or_auth_is_an_operator_error(serve, tmp_path, certificate):
    with pytest.raises(ConfigError, match="tls_key_file is missing"):
        serve(tls_cert_file=str(certificate[0]))
    with pytest.raises(ConfigError, match="password_file"):
        serve(basic_auth_username="prometheus", basic_auth_password_file=str(tmp_path / "absent"))
