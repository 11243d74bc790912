"""DuckDB extensions load from the installed packages, their signatures checked once per process and file."""

import shutil
from pathlib import Path

import duckdb
import pytest

from warehouse import ducklake
from warehouse.ducklake import extension_path, load_extension, offline_config

connect = duckdb.connect  # the tests' own connections, not counted


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The configurations of the connections warehouse.ducklake opens, from a process that has checked nothing."""
    monkeypatch.setattr(ducklake, "_CHECKED", {})
    opened: list[dict] = []

    def counted(*args: object, config: dict | None = None, **kwargs: object) -> duckdb.DuckDBPyConnection:
        opened.append(dict(config or {}))
        return connect(*args, config=config, **kwargs)

    monkeypatch.setattr(ducklake.duckdb, "connect", counted)
    return opened


def loaded(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT loaded FROM duckdb_extensions() WHERE extension_name = ?", [name]).fetchone()[
        0
    ]


def test_a_process_checks_an_extension_once(connects: list[dict]) -> None:
    first = connect(config=offline_config())
    assert first.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone() == (False,)
    load_extension(first, "ducklake")  # DuckDB checks the signature on this connection's own load
    assert loaded(first, "ducklake") and set(ducklake._CHECKED) == {"ducklake"} and connects == []
    later = connect(config=offline_config())
    assert later.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone() == (True,)
    load_extension(later, "ducklake")  # the same installed file: no second check
    assert loaded(later, "ducklake") and connects == []
    load_extension(later, "sqlite_scanner")  # a file not checked yet is checked on a connection of its own
    assert loaded(later, "sqlite_scanner") and set(ducklake._CHECKED) == {"ducklake", "sqlite_scanner"}
    assert len(connects) == 1 and not connects[0].get("allow_unsigned_extensions")


def test_a_tampered_binary_is_refused_even_after_a_checked_load(
    connects: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_extension(connect(config=offline_config()), "ducklake")
    tampered = tmp_path / "package" / Path(extension_path("ducklake")).name
    tampered.parent.mkdir()
    shutil.copy(extension_path("ducklake"), tampered)
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr(ducklake, "extension_path", lambda name: str(tampered))
    con = connect(config=offline_config(extension_directory=str(tmp_path / "extensions")))
    with pytest.raises(duckdb.Error, match="signature"):
        load_extension(con, "ducklake")
    assert not loaded(con, "ducklake") and set(ducklake._CHECKED) == {"ducklake"}
