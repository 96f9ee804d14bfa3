"""Operations, run as an operator runs them (the real command, a separate process): a store that
cannot be opened is one line and exit code 2 within seconds; SQLite files are the owner's only;
tokens are listed and revoked; the access log is printed."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from aggregates.access import Principal, Role
from ehqa.auth import AccessLog
from ehqa.services import Services
from tests.conftest import postgres_server_url
from tests.e2e.cli.test_cli import EXAMPLE_LINES, ehqa, ok

QUICK = 8.0  # seconds: the interpreter starts (~2 s), the store answers (or not) within 3 s


def refused_at_once(db: str, *args: str, command: list[str] | None = None) -> str:
    started = time.monotonic()
    if command is None:
        result = ehqa(db, *args)
    else:
        result = subprocess.run([*command, "-m", "ehqa", "--db", db, *args], capture_output=True,
                                text=True, timeout=60)  # fmt: skip
    took = time.monotonic() - started
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the store "), result.stderr
    assert took < QUICK, f"{took:.1f} s"
    return lines[0]


def with_server(path: str, **parts: str) -> str:
    """The test server's URL with another database, user or password (and no schema)."""
    server = urlsplit(postgres_server_url())
    user = parts.get("user", server.username or "postgres")
    password = f":{parts['password']}" if "password" in parts else ""
    netloc = f"{user}{password}@{server.hostname}:{server.port or 5432}"
    return urlunsplit(("postgresql", netloc, path, "", ""))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


COMMANDS = [["drift"], ["tokens", "list"], ["access-log"], ["sweep"], ["projections", "status"],
            ["tokens", "create", "--role", "admin", "--name", "x"]]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_postgres_refusing_connections_is_one_line_without_the_password(command: list[str]) -> None:
    line = refused_at_once("postgresql://postgres:s3cret-pw@127.0.0.1:1/x", *command)
    assert (
        line
        == "error: cannot open the store postgresql://postgres:***@127.0.0.1:1/x: connection refused"
    )


def test_serve_refuses_to_start_on_an_unreachable_store() -> None:
    line = refused_at_once(
        "postgresql://postgres@127.0.0.1:1/x", "serve", "--port", str(free_port())
    )
    assert line.endswith(": connection refused")


@pytest.mark.postgres
def test_a_missing_postgres_database_or_role_is_named() -> None:
    missing = refused_at_once(with_server("/ehqa_no_such_db"), "drift")
    assert missing.endswith(': database "ehqa_no_such_db" does not exist'), missing
    role = refused_at_once(with_server("/x", user="ehqa_nobody", password="pw"), "tokens", "list")
    assert role.endswith(': role "ehqa_nobody" does not exist'), role
    assert ":pw@" not in role


def test_an_unknown_postgres_host_is_named() -> None:
    line = refused_at_once("postgresql://postgres@no-such-host.invalid/x", "drift")
    assert "failed to resolve host 'no-such-host.invalid'" in line


def test_an_sqlite_file_in_a_missing_directory_or_under_a_file(tmp_path: Path) -> None:
    missing = refused_at_once(str(tmp_path / "nowhere" / "ehqa.db"), "drift")
    assert missing.endswith(
        f"unable to open database file (directory {tmp_path / 'nowhere'} does not exist)"
    )
    (tmp_path / "a-file").write_text("")
    under = refused_at_once(f"sqlite:///{tmp_path / 'a-file' / 'ehqa.db'}", "tokens", "list")
    assert "is not a directory" in under
    assert not (tmp_path / "nowhere").exists()


@pytest.fixture
def unwritable_dir() -> Iterator[Path]:
    """A directory its user cannot write to (root writes anywhere: then the command runs as nobody)."""
    top = Path(tempfile.mkdtemp(prefix="ehqa-ro-"))
    top.chmod(0o755)
    (top / "ro").mkdir(mode=0o555)
    (top / "ro").chmod(0o555)
    yield top / "ro"
    shutil.rmtree(top)


def test_an_sqlite_file_in_an_unwritable_directory(unwritable_dir: Path) -> None:
    command = [sys.executable]
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: no unwritable directory")
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    line = refused_at_once(str(unwritable_dir / "ehqa.db"), "drift", command=command)
    assert line.endswith("unable to open database file (Permission denied)"), line


def test_sqlite_files_are_the_owners_only(tmp_path: Path) -> None:
    db = tmp_path / "ehqa.db"
    previous = os.umask(0o022)  # a permissive umask: the modes come from ehqa, not from it
    try:
        ok(str(db), "demo")
        ok(str(db), "sweep")
        conn = __import__("sqlite3").connect(db)  # a live connection keeps -wal and -shm
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        files = [db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}.sweep.lock"),
                 Path(f"{db}.migrate.lock"), Path(f"{db}.schema.lock")]  # fmt: skip
        modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files}
        conn.close()
    finally:
        os.umask(previous)
    assert modes == {f.name: "0o600" for f in files}


def test_tokens_list_revoke_and_expire(store_url: str) -> None:
    created = ehqa(
        store_url, "tokens", "create", "--role", "coordinator", "--name", "Co", "--expires", "90d"
    )
    assert created.returncode == 0 and created.stdout.startswith("ehqa_")
    secret = created.stdout.strip()
    ok(
        store_url,
        "tokens",
        "create",
        "--role",
        "admin",
        "--name",
        "Twin",
        "--expires",
        "2099-01-01",
    )
    ok(store_url, "tokens", "create", "--role", "admin", "--name", "Twin")
    listed = json.loads(ok(store_url, "tokens", "list", "--json"))
    assert [(t["name"], t["role"]) for t in listed] == [
        ("Co", "coordinator"),
        ("Twin", "admin"),
        ("Twin", "admin"),
    ]
    assert (
        listed[0]["id"] in created.stderr
        and listed[0]["expires_at"]
        and not listed[0]["revoked_at"]
    )
    assert (
        listed[1]["expires_at"] == "2099-01-01T00:00:00+00:00" and listed[2]["expires_at"] is None
    )
    assert secret not in json.dumps(listed) and not any("hash" in key for key in listed[0])
    table = ok(store_url, "tokens", "list")
    assert table.splitlines()[0].split() == [
        "id",
        "name",
        "role",
        "agency",
        "created",
        "expires",
        "last",
        "used",
        "revoked",
    ]
    assert secret not in table
    past = ehqa(
        store_url, "tokens", "create", "--role", "admin", "--name", "Old", "--expires", "2020-01-01"
    )
    assert past.returncode == 2 and "not in the future" in past.stderr
    twins = ehqa(store_url, "tokens", "revoke", "Twin")
    assert (
        twins.returncode == 1
        and listed[1]["id"] in twins.stderr
        and listed[2]["id"] in twins.stderr
    )
    assert "revoked token" in ok(store_url, "tokens", "revoke", "Co")
    assert "revoked token" in ok(store_url, "tokens", "revoke", listed[1]["id"])
    after = {
        t["id"]: t["revoked_at"] for t in json.loads(ok(store_url, "tokens", "list", "--json"))
    }
    assert [bool(after[t["id"]]) for t in listed] == [True, True, False]
    assert ehqa(store_url, "tokens", "revoke", "Nobody").returncode == 1


def test_the_access_log(store_url: str) -> None:
    services = Services(store_url)
    log = AccessLog(services.views)
    for n in range(3):
        log.record(
            Principal("Ann Cole", Role.PRACTITIONER, "health_visiting", subject="token:x"),
            "episode",
            f"EH-{n}",
        )
    log.record(Principal("Kate Evans", Role.AUDITOR), "drift")
    services.close()
    entries = json.loads(ok(store_url, "--by", "staff:it1", "access-log", "--json"))
    # reading the access log through the command line is itself recorded, first
    assert len(entries) == 5 and entries[0]["subject"] == "staff:it1"
    assert entries[0]["action"] == "cli access-log"
    assert entries[1]["who"] == "Kate Evans" and entries[1]["episode"] is None
    one = json.loads(ok(store_url, "access-log", "--episode", "EH-1", "--json"))
    # (reading one episode's access log is itself a read of that episode's record)
    assert [(e["role"], e["action"], e["episode"]) for e in one[:1]] == [
        ("admin", "cli access-log", "EH-1")
    ]
    assert [(e["who"], e["role"], e["agency"], e["action"], e["episode"]) for e in one[1:]] == [
        ("Ann Cole", "practitioner", "health_visiting", "episode", "EH-1")
    ]
    assert len(json.loads(ok(store_url, "access-log", "--limit", "2", "--json"))) == 2
    table = ok(store_url, "access-log").splitlines()
    assert table[0].split()[:3] == ["at", "who", "subject"] and len(table) == 9


def test_every_command_line_read_and_write_is_in_the_access_log_with_its_subject(
    store_url: str, tmp_path: Path
) -> None:
    examples = tmp_path / "episodes.jsonl"
    examples.write_text("\n".join(EXAMPLE_LINES) + "\n")
    ok(store_url, "--by", "staff:jb", "apply", str(examples))
    ok(store_url, "--by", "staff:co", "timeline", "EH-0001")
    ok(store_url, "--by", "staff:co", "drift")
    ok(store_url, "--by", "staff:co", "deadlines", "--episode", "EH-0002")
    ok(store_url, "--by", "staff:au", "audit", "assign", "AU-1", "--episode", "EH-0001",
       "--scheme", "what_makes_good", "--auditor", "Kate Evans", "--on", "2025-11-20")  # fmt: skip
    ok(store_url, "--by", "staff:au", "audit", "show", "AU-1")
    entries = json.loads(
        ok(store_url, "--by", "staff:insp", "access-log", "--limit", "1000", "--json")
    )
    seen = {(e["subject"], e["action"], e["episode"]) for e in entries}
    assert ("staff:jb", "cli apply", None) in seen
    assert ("staff:jb", "record open", "EH-0001") in seen
    assert ("staff:jb", "record record_consent", "EH-0001") in seen
    assert ("staff:co", "cli timeline", "EH-0001") in seen
    assert ("staff:co", "cli drift", None) in seen
    assert ("staff:co", "cli deadlines", "EH-0002") in seen
    assert ("staff:au", "cli audit assign AU-1", "EH-0001") in seen
    assert ("staff:au", "cli audit show AU-1", "EH-0001") in seen
    assert ("staff:insp", "cli access-log", None) in seen
    assert all(e["subject"] for e in entries)


def test_migrate_shows_pending_applies_once_and_is_then_up_to_date(store_url: str) -> None:
    """`ehqa migrate --status` lists what a new store lacks; `ehqa migrate` applies it once; a
    second run applies nothing; the store then serves commands (which migrate on start too)."""
    status = ok(store_url, "migrate", "--status")
    assert status.splitlines() == ["pending  0001_service_tables", "pending  0002_child_keys"]
    assert ok(store_url, "migrate").splitlines() == [
        "applied  0001_service_tables",
        "applied  0002_child_keys",
    ]
    assert ok(store_url, "migrate").strip() == "up to date: nothing to apply"
    status = ok(store_url, "migrate", "--status")
    assert status.splitlines() == ["applied  0001_service_tables", "applied  0002_child_keys"]
    ok(store_url, "tokens", "list")


def test_migrate_names_a_store_it_cannot_open() -> None:
    refused_at_once("postgresql://postgres@127.0.0.1:1/nothing", "migrate")
