"""Bounded input at the HTTP edge: body size, header count, JSON shape, and short 422 answers.

Owns ``InputLimits`` (ASGI middleware: a body over the limit is a 413 before it is buffered,
checked on ``Content-Length`` and again while the body streams; a JSON body that is not valid
UTF-8 JSON — lone surrogates included — or nests too deep is a 422 before FastAPI parses it) and
the ``RequestValidationError`` handler that never echoes more than an excerpt of the input.
Header size is bounded first by the HTTP server (``runtime.run`` configures uvicorn's h11
parser), then exactly here (431).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import HTTPException, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

EXCERPT = 64
"""How many characters of an offending value a 422 answer repeats."""

LINGER_BYTES = 16 * 1024 * 1024
LINGER_SECONDS = 5.0
"""Before a 413, the rest of a body up to this size is read and dropped (nginx's lingering
close): a server that closes with unread data makes the kernel reset the connection, and the
client loses the 413 it was sent. Bigger bodies are cut off at once. Nothing is kept."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLarge(HTTPException):
    """413: the request body exceeds ``MAX_BODY_BYTES``."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, f"the request body exceeds {limit} bytes"
        )


class InputLimits:
    """ASGI middleware: ``app.add_middleware(InputLimits, max_body_bytes=…, …)``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_headers: int,
        max_header_bytes: int,
        max_json_depth: int,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_json_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what is too big or malformed, else pass the request on."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        if len(headers) > self.max_headers:
            await _answer(send, 431, f"more than {self.max_headers} request headers")
            return
        # h11 refuses a header block it must buffer past the limit; one that arrived whole in a
        # single read is measured here
        if sum(len(name) + len(value) for name, value in headers) > self.max_header_bytes:
            await _answer(send, 431, f"request headers exceed {self.max_header_bytes} bytes")
            return
        fields = dict(headers)
        length = fields.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            if length.isdigit() and int(length) <= LINGER_BYTES:
                await _drain(receive)
            await _answer(send, 413, BodyTooLarge(self.max_body_bytes).detail)
            return
        if scope["method"] in _BODY_METHODS and _is_json(fields.get(b"content-type")):
            await self._checked_json(scope, receive, send)
        else:
            await self.app(scope, self._counting(receive), send)

    async def _checked_json(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                chunks.clear()
                if message.get("more_body", False):
                    await _drain(receive, size)
                await _answer(send, 413, BodyTooLarge(self.max_body_bytes).detail)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = _json_problem(body, self.max_json_depth) if body else None
        if problem is not None:
            detail = [{"type": "json_invalid", "loc": ["body"], "msg": problem}]
            await _answer(send, 422, detail)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _counting(self, receive: Receive) -> Receive:
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                if message.get("more_body", False):
                    await _drain(receive, size)
                raise BodyTooLarge(self.max_body_bytes)  # FastAPI answers an HTTPException
            return message

        return counted


async def explain_invalid(request: Request, error: Exception) -> JSONResponse:
    """The 422 answer to a ``RequestValidationError``: why, where, and at most an excerpt."""
    assert isinstance(error, RequestValidationError)
    detail = [_excerpt(problem) for problem in error.errors()]
    return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)


def _excerpt(problem: Mapping[str, Any]) -> dict[str, Any]:
    short: dict[str, Any] = {
        "type": problem.get("type", "invalid"),
        "loc": list(problem.get("loc", ())),
        "msg": str(problem.get("msg", ""))[:300],
    }
    value = problem.get("input")
    if isinstance(value, str):
        short["input"] = value if len(value) <= EXCERPT else value[:EXCERPT] + "…"
    elif isinstance(value, bool | int | float) and len(repr(value)) <= EXCERPT:
        short["input"] = value
    # objects and arrays are not repeated: the loc says where the problem is
    return short


def _json_problem(body: bytes, max_depth: int) -> str | None:
    try:
        value = orjson.loads(body)  # refuses invalid UTF-8 and lone surrogates ("\ud800")
    except orjson.JSONDecodeError as error:
        return f"JSON decode error: {error}"[:300]
    if _is_deeper(value, max_depth):
        return f"JSON nests deeper than {max_depth} levels"
    return None


def _is_deeper(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        )
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _is_json(content_type: bytes | None) -> bool:
    """What FastAPI parses as JSON: no content type, ``application/json`` or ``…+json``."""
    if not content_type:
        return True
    kind = content_type.split(b";", 1)[0].strip().lower()
    return kind == b"application/json" or (
        kind.startswith(b"application/") and kind.endswith(b"+json")
    )


async def _drain(receive: Receive, already: int = 0) -> None:
    """Read and drop the rest of the body, at most ``LINGER_BYTES`` for ``LINGER_SECONDS``."""
    size = already
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(LINGER_SECONDS):
            while size <= LINGER_BYTES:
                message = await receive()
                if message["type"] != "http.request":
                    return
                size += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


async def _answer(send: Send, code: int, detail: object) -> None:
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
