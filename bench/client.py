"""A lean HTTP/1.1 client for the saga's load generator: JSON POSTs on kept-alive connections.

The load generator shares the two cores with what it measures, so every microsecond it spends
is taken from the suite. httpx (request/response models, anyio, httpcore's pool) cost about
6 ms of CPU per order; this client writes one prebuilt request and reads the answer with
httptools (uvicorn's own parser), on a pool of connections it reuses. It knows one host and
what the saga sends; it is not a general client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import cast
from urllib.parse import urlsplit

import httptools

# uvicorn closes a connection idle for 5 s; one idle for longer than this is not reused, so a
# request never races the server's close (and is never sent twice).
_MAX_IDLE = 3.0


class HttpError(Exception):
    """The server answered with a status of 400 or above, or hung up mid-answer."""


class Client:
    """``await client.post(path, body)`` -> (status, body) over at most ``limit`` connections.

    A status of 400 or above raises ``HttpError``, as httpx's ``raise_for_status`` did.
    """

    def __init__(self, base_url: str, *, limit: int, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self._idle: list[tuple[_Connection, float]] = []
        self._all: set[_Connection] = set()
        self._slots = asyncio.Semaphore(limit)
        self._head = f"Host: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"

    async def post(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        """POST ``body`` (JSON) to ``path``; the status and the answer's body (2xx or 3xx)."""
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        request = (
            f"POST {path} HTTP/1.1\r\n{self._head}{extra}Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        async with self._slots, asyncio.timeout(self.timeout):
            conn = self._reuse() or await self._connect()
            try:
                status, answer = await conn.exchange(request)
            except BaseException:
                self._drop(conn)  # cut short (timeout, hang-up): its state is unknown
                raise
            if conn.is_reusable():
                self._idle.append((conn, time.monotonic()))
            else:
                self._drop(conn)
        if status >= 400:
            raise HttpError(f"POST {path}: {status} {answer[:200]!r}")
        return status, answer

    async def close(self) -> None:
        """Close every connection."""
        for conn in list(self._all):
            self._drop(conn)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _reuse(self) -> _Connection | None:
        """The most recently used idle connection still fresh enough; the stale ones closed."""
        now = time.monotonic()
        while self._idle:
            conn, since = self._idle.pop()
            if conn.is_reusable() and now - since < _MAX_IDLE:
                return conn
            self._drop(conn)
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(_Connection, self.host, self.port)
        self._all.add(conn)
        return conn

    def _drop(self, conn: _Connection) -> None:
        self._all.discard(conn)
        conn.close()


class _Connection(asyncio.Protocol):
    """One TCP connection: one request at a time, its answer parsed as it arrives."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._lost = False
        self._keep_alive = False

    def exchange(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        if self._transport is None or self._lost:
            raise HttpError("connection closed")
        self._waiter = asyncio.get_running_loop().create_future()
        self._body = []
        self._transport.write(request)
        return self._waiter

    def is_reusable(self) -> bool:
        return not self._lost and self._keep_alive

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(HttpError(f"unreadable answer: {error}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._fail(HttpError("the server closed the connection"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep_alive = self._parser.should_keep_alive()  # only valid inside a callback
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((self._parser.get_status_code(), b"".join(self._body)))

    def _fail(self, error: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
