"""Schema migrations: plain SQL, applied once each, in order, exactly once across replicas.

Owns the ``warren_migrations`` ledger and the rules around it: a migration is named SQL; applying a
list runs the missing ones in one transaction under an advisory lock, so replicas starting together
wait for each other instead of racing; a recorded migration whose SQL has since changed is refused.
It knows nothing of what the SQL creates.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from warren.db._connection import Connection

# Any fixed bigint works: advisory locks are scoped to the current database. This one spells
# "WARREN" in ASCII so it is recognisable in pg_locks.
_LOCK_KEY = 0x5741_5252_454E

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS warren_migrations (
    name       text PRIMARY KEY,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationChanged(RuntimeError):
    """A migration already applied to this database has different SQL now.

    Applied migrations are history: change the schema with a new migration instead.
    """


@dataclass(frozen=True, slots=True)
class Migration:
    """One named step of a database schema, as SQL (several statements are fine).

    ``name`` is what the ledger records, so it must never change once released.
    """

    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the SQL, blind to line-ending style so a checkout on Windows matches."""
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode()).hexdigest()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Migration:
        """The migration in the UTF-8 file ``path``, named after the file without ``.sql``."""
        file = Path(path)
        return cls(name=file.stem, sql=file.read_text(encoding="utf-8"))


def migrations_in(directory: str | os.PathLike[str]) -> list[Migration]:
    """Every ``*.sql`` file in ``directory`` as a migration, in natural order of file names.

    Natural order compares digit runs as numbers, so ``9_x.sql`` comes before ``10_x.sql``.
    A missing directory is an error, never an empty schema.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"no migrations directory at {folder}")
    files = sorted(
        (p for p in folder.glob("*.sql") if p.is_file()),
        key=lambda p: (natural_key(p.name), p.name),
    )
    return [Migration.from_file(file) for file in files]


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key comparing the digit runs of ``name`` as numbers and the rest as text."""
    parts = re.split(r"(\d+)", name)  # with the group kept, odd positions hold the digit runs
    return tuple((0, int(part)) if i % 2 else (1, part) for i, part in enumerate(parts) if part)


async def apply_migrations(conn: Connection, migrations: Sequence[Migration]) -> list[str]:
    """Apply the migrations not yet recorded, in order; return the names applied now.

    Everything happens in one transaction holding an advisory lock, so it is all or nothing and
    concurrent callers on the same database apply each migration exactly once.
    """
    _refuse_duplicates(migrations)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        await conn.execute(_CREATE_LEDGER)
        rows = await conn.fetch("SELECT name, checksum FROM warren_migrations")
        recorded = {row["name"]: row["checksum"] for row in rows}
        _refuse_changed(migrations, recorded)
        missing = [m for m in migrations if m.name not in recorded]
        for migration in missing:
            await conn.execute(migration.sql)
            await conn.execute(
                "INSERT INTO warren_migrations (name, checksum) VALUES ($1, $2)",
                migration.name,
                migration.checksum,
            )
    return [migration.name for migration in missing]


def _refuse_duplicates(migrations: Iterable[Migration]) -> None:
    seen: set[str] = set()
    for migration in migrations:
        if migration.name in seen:
            raise ValueError(f"two migrations are named {migration.name!r}")
        seen.add(migration.name)


def _refuse_changed(migrations: Iterable[Migration], recorded: dict[str, str]) -> None:
    for migration in migrations:
        checksum = recorded.get(migration.name)
        if checksum is not None and checksum != migration.checksum:
            raise MigrationChanged(
                f"migration {migration.name!r} was applied with checksum {checksum[:12]}… but its "
                f"SQL now hashes to {migration.checksum[:12]}…; restore it and add a new migration"
            )
