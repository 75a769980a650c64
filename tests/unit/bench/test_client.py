"""The load generator's HTTP client against a small local HTTP/1.1 server: connections are
kept alive and reused, a closed or stale one is not, and an error status raises."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from bench import client as client_module
from bench.client import Client, HttpError


@dataclass
class Server:
    """Answers every POST with ``status`` and its body echoed; counts connections."""

    status: int = 202
    close_after_answer: bool = False
    connections: int = 0
    bodies: list[bytes] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                body = await reader.readexactly(length)
                self.bodies.append(body)
                close = b"Connection: close\r\n" if self.close_after_answer else b""
                writer.write(
                    b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n%s"
                    % (self.status, len(body), close, body)
                )
                await writer.drain()
                if self.close_after_answer:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    listening = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = listening.sockets[0].getsockname()[1]
    yield state
    listening.close()


async def test_sequential_requests_share_one_connection(server: Server) -> None:
    async with Client(f"http://127.0.0.1:{server.port}", limit=4) as http:
        answers = [await http.post("/orders", b'{"n": %d}' % i) for i in range(5)]
    assert answers == [(202, b'{"n": %d}' % i) for i in range(5)]
    assert server.connections == 1


async def test_concurrent_requests_open_connections_up_to_the_limit(server: Server) -> None:
    async with Client(f"http://127.0.0.1:{server.port}", limit=3) as http:
        await asyncio.gather(*(http.post("/orders", b"{}") for _ in range(12)))
    assert len(server.bodies) == 12
    assert server.connections <= 3


async def test_a_connection_the_server_closes_is_not_reused(server: Server) -> None:
    server.close_after_answer = True
    async with Client(f"http://127.0.0.1:{server.port}", limit=4) as http:
        for _ in range(3):
            assert (await http.post("/orders", b"{}"))[0] == 202
    assert server.connections == 3


async def test_a_connection_idle_too_long_is_not_reused(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_module, "_MAX_IDLE", 0.0)
    async with Client(f"http://127.0.0.1:{server.port}", limit=4) as http:
        await http.post("/orders", b"{}")
        await http.post("/orders", b"{}")
    assert server.connections == 2


async def test_an_error_status_raises(server: Server) -> None:
    server.status = 422
    async with Client(f"http://127.0.0.1:{server.port}", limit=4) as http:
        with pytest.raises(HttpError, match="422"):
            await http.post("/orders", b"{}")
