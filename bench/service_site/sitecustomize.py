"""Hooks the saga benchmark loads into each service process: this folder leads their PYTHONPATH.

Owns what a service reports to the bench without the services knowing: which files its code was
imported from (so a run proves which tree it ran), how many SQL statements its asyncpg
connections sent, by step and kind, and, when ``WARREN_BENCH_PROFILE`` names a folder, a
pyinstrument profile written at exit. Counting is dormant until the bench asks for it:

- ``SIGUSR2`` starts counting: a query logger (``Connection.add_query_logger``) on every asyncpg
  connection of the process, made before or after — the pool's, the relay's, the listener's —
  and the transactions they commit (``COMMIT``, and each statement sent outside a transaction);
- ``SIGUSR1`` writes the counts and the module files to ``$WARREN_BENCH_ACCOUNTING/<pid>.json``,
  after a statement of its own (not counted) on each connection that LISTENs: PostgreSQL runs a
  transaction for each batch of notifications such a connection reads, but publishes those in
  ``pg_stat_database`` only when the connection next finishes a statement that reads a table
  (and at most once a second), so the bench's read of ``xact_commit`` right after would miss them.

Until ``SIGUSR2`` the only cost is remembering each connection when it is made, so the
throughput phases run the services as deployed. ``BEGIN``/``COMMIT``/``ROLLBACK`` of
``conn.transaction()`` are counted by the same logger: asyncpg's ``Transaction`` sends them with
``Connection.execute``, which logs them. A prepared statement's first ``Parse`` (before the
statement cache is warm) is not a separate entry. It imports nothing of the bench: it runs in the
services' interpreter, on their path.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import os
import re
import signal
import sys
import weakref
from typing import Any

import asyncpg
import asyncpg.connection

_connections: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()
_counts: dict[tuple[str, str], int] = {}
_autocommits: dict[str, int] = {}  # step -> statements sent outside a transaction (each commits)
_listening: weakref.WeakSet[Any] = weakref.WeakSet()
_state = {"counting": False, "seq": 0, "pokes": 0}
_request = contextvars.ContextVar("warren_bench_request", default="")
_poking = contextvars.ContextVar("warren_bench_poking", default=False)

POKE = "SELECT 1 FROM pg_catalog.pg_namespace LIMIT 1"
"""Reads a table: a statement that reads none leaves the backend's counts unpublished."""
OWN = "own connection (relay, LISTEN)"
OTHER = "other (pool: sweeps, probes)"


def _remembering(connect: Any, origin: str) -> Any:
    @functools.wraps(connect)
    async def remembered(*args: Any, **kwargs: Any) -> Any:
        conn = await connect(*args, **kwargs)
        _connections[conn] = origin
        if _state["counting"]:
            _watch(conn, origin)
        return conn

    return remembered


class _Session:
    """One connection's origin, and whether the statements it sent so far left a transaction open
    (its loggers are called in the order its statements completed)."""

    __slots__ = ("is_open", "origin")

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.is_open = False


def _watch(conn: Any, origin: str) -> None:
    conn.add_query_logger(functools.partial(_count, _Session(origin)))


def _count(session: _Session, record: Any) -> None:
    # asyncpg calls loggers with call_soon from the querying task: its context is the step's.
    if _poking.get():
        return
    step, what = _step(session.origin), kind(record.query)
    _counts[(step, what)] = _counts.get((step, what), 0) + 1
    if what == "BEGIN":
        session.is_open = True
    elif what in ("COMMIT", "ROLLBACK") and " TO " not in record.query.upper():
        session.is_open = False  # (ROLLBACK TO SAVEPOINT keeps the transaction)
    elif not session.is_open and record.exception is None:
        _autocommits[step] = _autocommits.get(step, 0) + 1


def _step(origin: str) -> str:
    if origin == "own":
        return OWN
    import structlog  # the services' logging: warren's consumer binds the event's type

    event_type = structlog.contextvars.get_contextvars().get("event_type")
    if event_type:
        return f"on {event_type}"
    return _request.get() or OTHER


_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_NAME = r"([\w.\"]+)"
_TABLE = {
    "INSERT": re.compile(r"\bINTO\s+" + _NAME, re.I),
    "UPDATE": re.compile(r"\bUPDATE\s+(?:ONLY\s+)?" + _NAME, re.I),
    "DELETE": re.compile(r"\bFROM\s+(?:ONLY\s+)?" + _NAME, re.I),
    "SELECT": re.compile(r"\bFROM\s+(?!unnest\b)" + _NAME, re.I),
}
_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE)\b", re.I)


@functools.lru_cache(maxsize=4096)
def kind(query: str) -> str:
    """First keyword and main table: ``INSERT warren_inbox``, ``SELECT orders``, ``BEGIN``.

    A ``WITH`` statement is named by the first write inside it (``INSERT warren_outbox``).
    """
    text = _COMMENT.sub(" ", query).strip()
    verb = (text.split(None, 1) or ["?"])[0].rstrip(";").upper()
    if verb == "WITH":
        write = _WRITE.search(text)
        verb = write.group(1).upper() if write else "SELECT"
    pattern = _TABLE.get(verb)
    found = pattern.search(text) if pattern else None
    return f"{verb} {found.group(1).strip(chr(34))}" if found else verb


def _start() -> None:
    """Count from now on, on every connection: live ones now, new ones as they are made."""
    if not _state["counting"]:
        _state["counting"] = True
        for conn, origin in list(_connections.items()):
            if not conn.is_closed():
                _watch(conn, origin)
        _label_requests()


async def _report(start: bool) -> None:
    if start:
        _start()
    await _poke()
    _write()


async def _poke() -> None:
    """A statement on each LISTEN connection, so the server publishes its transaction counts."""
    _poking.set(True)  # this task's statements are the bench's, not the service's
    for conn in list(_listening):
        if conn.is_closed():
            continue
        # Busy (its own ping) or gone: then its counts wait for its next statement.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.execute(POKE), 1.0)
            _state["pokes"] += 1


def _label_requests() -> None:
    """Queries during an HTTP request count under ``POST /orders`` (method, first segment)."""
    try:
        from starlette.applications import Starlette
    except ImportError:
        return
    original = Starlette.__call__

    async def labelled(self: Any, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await original(self, scope, receive, send)
        first = scope["path"].strip("/").split("/", 1)[0]
        token = _request.set(f"{scope['method']} /{first}")
        try:
            await original(self, scope, receive, send)
        finally:
            _request.reset(token)

    Starlette.__call__ = labelled  # type: ignore[method-assign]


def _write() -> None:
    _state["seq"] += 1
    main = sys.modules.get("__main__")
    names = os.environ.get("WARREN_BENCH_MODULES", "").split(",")
    files = {n: getattr(sys.modules.get(n), "__file__", None) for n in names if n}
    report = {
        "pid": os.getpid(),
        "seq": _state["seq"],
        "counting": _state["counting"],
        "files": {"__main__": getattr(main, "__file__", None), **files},
        "counts": [[step, what, n] for (step, what), n in list(_counts.items())],
        "autocommits": dict(_autocommits),
        "pokes": _state["pokes"],
    }
    path = os.path.join(os.environ["WARREN_BENCH_ACCOUNTING"], f"{os.getpid()}.json")
    with open(path + ".tmp", "w") as out:
        json.dump(report, out)
    os.replace(path + ".tmp", path)  # the bench never reads half a file


def _on_signal(start: bool) -> Any:
    """A signal handler that reports from the event loop, as a task of its own (not inside
    whatever bytecode the signal interrupted, e.g. asyncpg iterating its loggers)."""

    def handler(signum: int, frame: object) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (yet): nothing to poke
            if start:
                _start()
            _write()
        else:
            loop.call_soon_threadsafe(lambda: loop.create_task(_report(start)))

    return handler


def _profile(folder: str) -> None:
    """pyinstrument on the main thread from start to exit; a text profile written at exit.

    Start-up (imports, migrations) is in it too; the load phases dominate a full run.
    """
    import atexit

    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()

    def write() -> None:
        profiler.stop()
        name = sys.argv[0].rsplit("/", 2)[-2] if "/" in sys.argv[0] else "service"
        show = r".*/(warren|contracts|orders|inventory|payments|notifications|aio_pika|aiormq|"
        show += r"asyncpg|fastapi|starlette|opentelemetry|structlog|pydantic)/.*"
        options = {"filter_threshold": 0.01, "show_regex": show}
        with open(os.path.join(folder, f"saga-{name}.txt"), "w") as out:
            out.write(profiler.output_text(processor_options=options))

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(0)  # uvicorn re-raises SIGTERM after its shutdown: exit through atexit

    signal.signal(signal.SIGTERM, leave)
    atexit.register(write)


def _install() -> None:
    # ``asyncpg.connect`` (the relay, the listener) and the pool's ``connection.connect`` are the
    # same function under two names: wrapping each tells a pooled connection from an own one.
    # (A pool looks ``connection.connect`` up when it is made, after this has run.)
    connect = asyncpg.connection.connect
    asyncpg.connect = _remembering(connect, "own")
    asyncpg.connection.connect = _remembering(connect, "pool")  # type: ignore[assignment]
    listen = asyncpg.connection.Connection.add_listener

    @functools.wraps(listen)
    async def add_listener(self: Any, channel: str, callback: Any) -> None:
        await listen(self, channel, callback)
        _listening.add(self)

    asyncpg.connection.Connection.add_listener = add_listener  # type: ignore[method-assign]
    signal.signal(signal.SIGUSR2, _on_signal(start=True))
    signal.signal(signal.SIGUSR1, _on_signal(start=False))


if os.environ.get("WARREN_BENCH_ACCOUNTING"):
    _install()
if os.environ.get("WARREN_BENCH_PROFILE"):
    _profile(os.environ["WARREN_BENCH_PROFILE"])
