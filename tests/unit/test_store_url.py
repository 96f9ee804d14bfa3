"""A database URL becomes the store's settings; SQLite's own name for a database in memory,
`:memory:`, is ehqa's in-process store, not a file of that name."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ehqa.services import Services
from ehqa.store import StoreURLError, store_env


@pytest.mark.parametrize("url", ["memory:", "memory://", ":memory:"])
def test_each_name_for_memory_is_the_in_process_store(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert store_env(url) == {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    services = Services(url)
    services.close()
    assert os.listdir(tmp_path) == []  # (no file made, of that name or beside it)


def test_a_file_path_is_an_sqlite_store(tmp_path: Path) -> None:
    env = store_env(str(tmp_path / "a.db"))
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
    assert env["SQLITE_DBNAME"] == str(tmp_path / "a.db")
    with pytest.raises(StoreURLError, match="neither a SQLite file"):
        store_env("mysql://x/y")
