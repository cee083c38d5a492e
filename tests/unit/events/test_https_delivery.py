"""HTTPS deliveries go to the checked address yet verify the certificate of the URL's host name (SNI)."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from moorage.events.delivery import Sender
from moorage.events.targets import TargetPolicy


def _certificate(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: Any, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer if not ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
    return builder.sign(signer, hashes.SHA256())


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[int, ssl.SSLContext, list[dict[str, str]]]]:
    """A TLS receiver on 127.0.0.1 whose certificate names `hooks.test`; a client context trusting its CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test CA", ca_key, x509.Name([]), ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = _certificate("hooks.test", key, ca.subject, ca_key, ca=False)
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server protocol
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append({key.lower(): value for key, value in self.headers.items()})
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    client = ssl.create_default_context(cadata=ca.public_bytes(serialization.Encoding.PEM).decode())
    try:
        yield server.server_address[1], client, seen
    finally:
        server.shutdown()
        server.server_close()


def _send(url: str, client: ssl.SSLContext) -> Any:
    policy = TargetPolicy(allow_private=True, resolver=lambda host, port: ["127.0.0.1"])
    sender = Sender(policy, timeout=5, verify=client)
    try:
        return sender.send(url, {"Moorage-Event": "ping"}, b"{}")
    finally:
        sender.close()


def test_the_certificate_is_checked_against_the_host_name_while_the_checked_address_is_dialled(
    receiver: tuple[int, ssl.SSLContext, list[dict[str, str]]],
) -> None:
    port, client, seen = receiver
    result = _send(f"https://hooks.test:{port}/hook", client)
    assert result.succeeded and result.status_code == 204, result.error
    assert seen[0]["host"] == f"hooks.test:{port}" and seen[0]["moorage-event"] == "ping"


def test_a_certificate_for_another_name_is_refused(receiver: tuple[int, ssl.SSLContext, list[dict[str, str]]]) -> None:
    port, client, seen = receiver
    result = _send(f"https://other.test:{port}/hook", client)
    assert not result.succeeded and result.status_code is None and seen == []
    assert result.error is not None and "certificate" in result.error.lower()
