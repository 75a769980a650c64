"""Migration as plain data: checksums, files, and the order a directory's files apply in."""

from __future__ import annotations

from pathlib import Path

import pytest

from warren.db import Migration, migrations_in


def test_checksum_follows_the_sql() -> None:
    one = Migration("0001_orders", "CREATE TABLE orders (id uuid);")

    assert one.checksum == Migration("renamed", one.sql).checksum
    assert one.checksum != Migration(one.name, one.sql.replace("uuid", "text")).checksum
    assert len(one.checksum) == 64


def test_checksum_ignores_line_ending_style() -> None:
    unix = Migration("0001_orders", "CREATE TABLE orders (\n  id uuid\n);\n")
    windows = Migration("0001_orders", unix.sql.replace("\n", "\r\n"))

    assert windows.checksum == unix.checksum


def test_a_file_is_named_after_its_stem(tmp_path: Path) -> None:
    path = tmp_path / "0001_create_orders.sql"
    path.write_text("CREATE TABLE orders (id uuid);", encoding="utf-8")

    assert Migration.from_file(path) == Migration(
        "0001_create_orders", "CREATE TABLE orders (id uuid);"
    )


def test_a_directory_applies_in_natural_order_of_sql_files(tmp_path: Path) -> None:
    for name in ["10_ten.sql", "9_nine.sql", "0002_two.sql", "1_one.sql", "notes.md"]:
        (tmp_path / name).write_text(f"-- {name}", encoding="utf-8")
    (tmp_path / "3_folder.sql").mkdir()

    assert [m.name for m in migrations_in(tmp_path)] == ["1_one", "0002_two", "9_nine", "10_ten"]


def test_a_missing_directory_is_an_error_not_an_empty_schema(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="migrations"):
        migrations_in(tmp_path / "migrations")
