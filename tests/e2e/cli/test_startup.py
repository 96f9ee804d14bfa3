"""The command line loads only what a command needs (bench/startup.py times it): checked in a
fresh interpreter by the modules it has loaded, `sys.modules`."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.e2e.cli.test_cli import ok

# What no query on an SQLite store needs: the PostgreSQL driver, the HTTP server, token
# verification, migrations already applied, the scheduler, the demo, the simulator, the import
# format's command models, and the view runner when the views have nothing to take; nor the
# application (the write side), the aggregates' event classes, the views' code, the replay.
NOT_FOR_A_QUERY = ["psycopg", "psycopg_pool", "eventsourcing.postgres", "fastapi", "starlette",
                   "uvicorn", "ehqa.api", "jwt", "yoyo", "ehqa.migrate", "apscheduler",
                   "ehqa.demo", "ehqa.simulate", "ehqa.commands", "projections.runner",
                   "ehqa.application", "aggregates.episode", "aggregates.audit",
                   "projections.views", "ehqa.known_at", "schedulers.sweep",
                   # the event store's code, when its views can read the log's table
                   "eventsourcing.persistence", "eventsourcing.sqlite", "ehqa.persistence",
                   "ehqa.cipher", "cryptography", "filelock"]  # fmt: skip
# ... nor `ehqa --help`, which also reads no settings, opens no store and counts no working day
NOT_FOR_HELP = [*NOT_FOR_A_QUERY, "pydantic_settings", "ehqa.services", "holidays"]


def loaded(code: str) -> list[str]:
    """The modules of NOT_FOR_HELP that a fresh interpreter has loaded after running `code`."""
    probe = (
        "import json, sys\n"
        f"{code}\n"
        f"print(json.dumps([m for m in {NOT_FOR_HELP!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_importing_the_command_line_loads_none_of_what_a_command_may_need() -> None:
    assert loaded("import ehqa.cli") == []


def test_help_loads_nothing_heavy() -> None:
    code = "from ehqa.cli import app\ntry:\n    app(['--help'])\nexcept SystemExit:\n    pass"
    assert loaded(code) == []


def test_a_query_on_an_sqlite_store_loads_neither_driver_nor_server_nor_command_models(
    sqlite_url: str,
) -> None:
    ok(sqlite_url, "demo")
    for query in (["drift"], ["episode", "DEMO-0003"], ["deadlines", "--episode", "DEMO-0001"]):
        args = ["--db", sqlite_url, *query]
        code = f"from ehqa.cli import app\napp({args!r}, standalone_mode=False)"
        found = loaded(code)
        assert set(found) <= {"pydantic_settings", "ehqa.services", "holidays"}, (query, found)
        assert "ehqa.services" in found  # (the query did run)


def test_the_record_steps_are_made_when_record_is_asked_for() -> None:
    code = "from ehqa.cli import app\ntry:\n    app(['record', '--help'])\nexcept SystemExit:\n    pass"
    assert "ehqa.commands" in loaded(code)
    done = subprocess.run(
        [sys.executable, "-m", "ehqa", "record", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0 and "see-child" in done.stdout and "panel-outcome" in done.stdout
