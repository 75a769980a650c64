"""PostgreSQL URL arithmetic: the database a URL names, and its neighbour on the same server."""

from __future__ import annotations

import pytest

from warren.db._url import database_name, with_database


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("postgresql://postgres@localhost:5432/orders", "orders"),
        ("postgresql://u:p@db/warren%2Dorders?sslmode=require", "warren-orders"),
        ("postgresql://postgres@localhost:5432", None),
        ("postgresql://postgres@localhost:5432/", None),
    ],
)
def test_database_name(url: str, name: str | None) -> None:
    assert database_name(url) == name


def test_with_database_keeps_server_credentials_and_options() -> None:
    url = "postgresql://user:secret@db:5433/orders?sslmode=require"

    assert (
        with_database(url, "postgres")
        == "postgresql://user:secret@db:5433/postgres?sslmode=require"
    )


def test_with_database_quotes_what_a_path_cannot_hold() -> None:
    assert with_database("postgresql://db", "a b/c") == "postgresql://db/a%20b%2Fc"
