"""The start-up port check: refuses a port another server listens on, allows one a crashed server left behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from moorage.serve import AddressInUse, ensure_address_free


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A server socket bound as granian binds (SO_REUSEADDR and SO_REUSEPORT), listening on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server


def test_a_port_another_server_listens_on_is_refused(listener: socket.socket) -> None:
    with pytest.raises(AddressInUse, match="cannot listen on"):
        ensure_address_free("127.0.0.1", listener.getsockname()[1])


def test_a_port_whose_server_went_away_while_a_client_kept_its_connection_is_free(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    with socket.create_connection(("127.0.0.1", port)) as client:
        accepted, _ = listener.accept()
        accepted.close()  # the server's side closes first: FIN_WAIT_2 while the client holds on
        listener.close()
        ensure_address_free("127.0.0.1", port)
        assert client.fileno() >= 0
