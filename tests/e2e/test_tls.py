"""HTTPS served by `moorage serve --tls-cert --tls-key`, with a private CA made here.

podman (`--cert-dir`) and skopeo (`--dest-cert-dir`) push and verify the certificate; a client
without the CA is refused. SIGHUP swaps in a renewed certificate: new connections see the new
serial, while a download that was in progress on the old worker runs to its end.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from tests.functional.helpers import digest_of, push_blob
from tests.support.clients import ClientError, container_tools, require_tools
from tests.support.oci_layout import with_marker, write_image
from tests.support.pki import PrivateCA
from tests.support.server import free_port

pytestmark = pytest.mark.e2e


@dataclass
class HttpsRegistry:
    url: str
    host: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateCA, Path]]:
    directory = tmp_path_factory.mktemp("pki")
    authority = PrivateCA.create()
    # podman and skopeo read every *.crt of a --cert-dir as a CA.
    (directory / "certs.d").mkdir()
    authority.write_ca(directory / "certs.d" / "ca.crt")
    yield authority, directory


@contextlib.contextmanager
def https_registry(data_dir: Path, cert: Path, key: Path, ca_file: Path) -> Iterator[HttpsRegistry]:
    port = free_port()
    log_path = data_dir.parent / "https-server.log"
    command = [sys.executable, "-m", "moorage", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--tls-cert", str(cert), "--tls-key", str(key)]
    environment = {**os.environ, "MOORAGE_GC_INTERVAL_SECONDS": "0", "MOORAGE_LIFECYCLE_INTERVAL_SECONDS": "0"}
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, "the HTTPS registry did not answer"
            with contextlib.suppress(httpx.HTTPError):
                if (
                    httpx.get(
                        f"{url}/v2/", verify=ssl.create_default_context(cafile=str(ca_file)), timeout=2
                    ).status_code
                    == 200
                ):
                    break
            time.sleep(0.1)
        yield HttpsRegistry(url, f"127.0.0.1:{port}", process, log_path)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Download:
    """A blob read piece by piece, as slowly as the test wants."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self.pieces = pieces
        self.digest = hashlib.sha256()
        self.total = 0
        self.finished = False

    def read(self, pause: float) -> None:
        piece = next(self.pieces, None)
        if piece is None:
            self.finished = True
            return
        self.digest.update(piece)
        self.total += len(piece)
        time.sleep(pause)


def served_serial(host: str, port: int, ca_file: Path) -> int:
    """The serial of the certificate a new TLS connection is given (verified against the CA)."""
    context = ssl.create_default_context(cafile=str(ca_file))
    with (
        socket.create_connection((host, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


@pytest.fixture(scope="module")
def registry(pki: tuple[PrivateCA, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsRegistry]:
    authority, directory = pki
    cert, key = directory / "server.crt", directory / "server.key"
    authority.issue(1001, cert, key)
    with https_registry(
        tmp_path_factory.mktemp("https") / "data", cert, key, directory / "certs.d" / "ca.crt"
    ) as running:
        yield running


def test_podman_pushes_with_the_private_ca_in_its_cert_dir(
    registry: HttpsRegistry, pki: tuple[PrivateCA, Path], tmp_path: Path
) -> None:
    require_tools("podman")
    _, directory = pki
    layout = tmp_path / "layout"
    write_image(layout, "v1", with_marker("tls-podman", [{"etc/motd": b"over TLS\n"}]))
    with container_tools(registry.host) as tools:
        (tools.root / "registries.conf").write_text("unqualified-search-registries = []\n")  # not insecure: verify
        target = f"{registry.host}/tls/podman:v1"
        image_id = tools.podman("pull", "-q", f"oci:{layout}:v1").splitlines()[-1]
        tools.podman("tag", image_id, target)
        tools.podman("push", "-q", "--cert-dir", directory / "certs.d", target)
        tools.podman("rmi", "-a", "-f")
        tools.podman("pull", "-q", "--cert-dir", directory / "certs.d", target)
    manifest = httpx.get(
        f"{registry.url}/v2/tls/podman/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        verify=ssl.create_default_context(cafile=str(directory / "certs.d" / "ca.crt")),
    )
    assert manifest.status_code == 200


def test_skopeo_pushes_with_dest_cert_dir_and_is_refused_without_the_ca(
    registry: HttpsRegistry, pki: tuple[PrivateCA, Path], tmp_path: Path
) -> None:
    require_tools("skopeo")
    _, directory = pki
    layout = tmp_path / "layout"
    write_image(layout, "v1", with_marker("tls-skopeo", [{"srv/data": b"y" * 2000}]))
    with container_tools(registry.host) as tools:
        (tools.root / "registries.conf").write_text("unqualified-search-registries = []\n")
        destination = f"docker://{registry.host}/tls/skopeo:v1"
        with pytest.raises(ClientError, match="certificate|x509"):
            tools.run("skopeo", "--insecure-policy", "copy", f"oci:{layout}:v1", destination)
        tools.run(
            "skopeo",
            "--insecure-policy",
            "copy",
            "--dest-cert-dir",
            directory / "certs.d",
            f"oci:{layout}:v1",
            destination,
        )
        tags = tools.run(
            "skopeo", "list-tags", "--cert-dir", directory / "certs.d", f"docker://{registry.host}/tls/skopeo"
        )
    assert '"v1"' in tags


def test_sighup_serves_the_renewed_certificate_and_a_download_in_progress_completes(
    registry: HttpsRegistry, pki: tuple[PrivateCA, Path]
) -> None:
    authority, directory = pki
    ca_file = directory / "certs.d" / "ca.crt"
    port = int(registry.host.rsplit(":", 1)[1])
    assert served_serial("127.0.0.1", port, ca_file) == 1001
    data = os.urandom(32 * 1024 * 1024)  # more than the socket buffers hold: the server is still sending
    with httpx.Client(
        base_url=registry.url, verify=ssl.create_default_context(cafile=str(ca_file)), timeout=60
    ) as client:
        blob = push_blob(client, "tls/big", data)
    renewed = threading.Event()
    with (
        httpx.Client(
            base_url=registry.url, verify=ssl.create_default_context(cafile=str(ca_file)), timeout=120
        ) as downloader,
        downloader.stream("GET", f"/v2/tls/big/blobs/{blob.digest}") as response,
    ):
        assert response.status_code == 200
        download = Download(response.iter_raw(64 * 1024))
        download.read(pause=0)
        authority.issue(2002, directory / "server.crt", directory / "server.key")
        registry.process.send_signal(signal.SIGHUP)

        def watch() -> None:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError):
                    if served_serial("127.0.0.1", port, ca_file) == 2002:
                        renewed.set()
                        return
                time.sleep(0.2)

        watcher = threading.Thread(target=watch)
        watcher.start()
        while not renewed.is_set() and watcher.is_alive():  # read slowly while the new worker starts
            download.read(pause=0.1)
        watcher.join()
        assert renewed.is_set(), f"the renewed certificate was never served:\n{registry.log()[-3000:]}"
        assert not download.finished, "the download ended before the certificate was swapped: the test proves nothing"
        # granian stops the old worker gracefully once the new one has started (after its respawn interval).
        deadline = time.monotonic() + 30
        while "Stopping old worker" not in registry.log() and time.monotonic() < deadline:
            download.read(pause=0.05)
        assert "Stopping old worker" in registry.log()
        while not download.finished:
            download.read(pause=0)
    assert download.total == len(data)
    received = download.digest
    assert "sha256:" + received.hexdigest() == digest_of(data) == blob.digest
    assert served_serial("127.0.0.1", port, ca_file) == 2002
    assert "serial 7d2" in registry.log()  # 2002 in hex: the reload was announced, the key never shown
    assert "PRIVATE KEY" not in registry.log()


def test_a_broken_renewal_is_refused_and_the_served_certificate_stays(
    registry: HttpsRegistry, pki: tuple[PrivateCA, Path]
) -> None:
    authority, directory = pki
    ca_file = directory / "certs.d" / "ca.crt"
    port = int(registry.host.rsplit(":", 1)[1])
    before = served_serial("127.0.0.1", port, ca_file)
    cert = directory / "server.crt"
    good = cert.read_bytes()
    cert.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    try:
        registry.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "still serving the previous certificate" not in registry.log():
            assert time.monotonic() < deadline, registry.log()[-3000:]
            time.sleep(0.1)
        assert served_serial("127.0.0.1", port, ca_file) == before
        assert registry.process.poll() is None
    finally:
        cert.write_bytes(good)
