"""Hostile input at every edge, on both stores: real HTTP against `ehqa serve` and the command
line. Every case is answered 4xx (or exit 1/2), names what is wrong, records nothing, and the
service still answers /ready afterwards.

Control characters tried: U+0000, U+0001, U+001B, U+007F and U+0085 (NEXT LINE, a C1 control:
refused like the others), and an unpaired surrogate (U+D800, from a JSON escape).
"""

from __future__ import annotations

import gc
import json
import select
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from typer.testing import CliRunner

from ehqa.cli import app as cli
from ehqa.services import Services
from tests.conftest import postgres_server_url
from tests.e2e.api.test_serve import call, ehqa, serving

CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85"]
HOSTILE = [*CONTROLS, "\ud800"]
MIB = 1024 * 1024

OPEN = {"episode": "EH-B", "on": "2025-09-01", "child": "C-B",
        "lead": {"name": "Jo", "agency": "school"}, "policy": "st-helens"}  # fmt: skip
# (path, a valid body, the field to spoil: a path into the body)
FIELDS: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = [
    ("/episodes", OPEN, ("episode",)),
    ("/episodes", OPEN, ("child",)),
    ("/episodes", OPEN, ("lead", "name")),
    ("/episodes", OPEN, ("lead", "agency")),
    ("/episodes", OPEN, ("policy",)),
    ("/episodes/EH-A/record_exception", {"on": "2025-09-05", "clock": "assessment", "reason": "r"}, ("reason",)),
    ("/episodes/EH-A/close", {"on": "2025-09-05", "reason": "outcomes_achieved", "summary": "s"}, ("summary",)),
    ("/episodes/EH-A/record_consent", {"on": "2025-09-05", "agencies": ["school"]}, ("agencies", 0)),
    ("/episodes/EH-A/change_lead", {"on": "2025-09-05", "lead": {"name": "Al", "agency": "school"}}, ("lead", "name")),
    ("/episodes/EH-A/change_lead", {"on": "2025-09-05", "lead": {"name": "Al", "agency": "school"}}, ("lead", "agency")),
    ("/audits", {"reference": "AU-B", "episode": "EH-A", "scheme": "st_helens", "on": "2025-11-01", "reason": "r"}, ("reference",)),
    ("/audits", {"reference": "AU-B", "episode": "EH-A", "scheme": "st_helens", "on": "2025-11-01", "reason": "r"}, ("episode",)),
    ("/audits", {"reference": "AU-B", "episode": "EH-A", "scheme": "st_helens", "on": "2025-11-01", "auditor": "hostile"}, ("auditor",)),
    ("/episodes/EH-A/record_feedback", {"on": "2025-09-05", "from": "child", "point": "during_assessment", "answers": {"kept_informed": "agree"}, "comments": "c"}, ("comments",)),
    ("/episodes/EH-A/request_panel", {"on": "2025-09-05", "asks": ["advice"], "summary": "s"}, ("summary",)),
    ("/episodes/EH-A/record_panel_outcome", {"on": "2025-09-05", "outcome": "services_allocated", "services": [{"service": "s", "provider": "p"}]}, ("services", 0, "provider")),
    ("/episodes/EH-A/record_panel_review", {"on": "2025-09-05", "notes": "n"}, ("notes",)),
    ("/audits", {"reference": "AU-B", "episode": "EH-A", "scheme": "st_helens", "on": "2025-11-01", "reason": "r"}, ("reason",)),
    ("/audits/AU-A/scores", {"item": "A1", "value": 3, "evidence": "e", "override_reason": "o", "action": "a", "on": "2025-11-02"}, ("evidence",)),
    ("/audits/AU-A/scores", {"item": "A1", "value": 3, "evidence": "e", "override_reason": "o", "action": "a", "on": "2025-11-02"}, ("override_reason",)),
    ("/audits/AU-A/scores", {"item": "A1", "value": 3, "evidence": "e", "override_reason": "o", "action": "a", "on": "2025-11-02"}, ("action",)),
    ("/audits/AU-A/complete", {"reason": "r", "on": "2025-11-02"}, ("reason",)),
    ("/audits/AU-A/actions", {"number": "1", "who": "Jo", "what": "w", "on": "2025-11-02"}, ("who",)),
    ("/audits/AU-A/actions", {"number": "1", "who": "Jo", "what": "w", "on": "2025-11-02"}, ("what",)),
    ("/audits/AU-A/concerns", {"note": "n", "on": "2025-11-02"}, ("note",)),
    ("/audits/AU-A/discussions", {"worker": "Jo", "manager": "Mo", "notes": "n", "on": "2025-11-02"}, ("worker",)),
    ("/audits/AU-A/discussions", {"worker": "Jo", "manager": "Mo", "notes": "n", "on": "2025-11-02"}, ("manager",)),
    ("/audits/AU-A/discussions", {"worker": "Jo", "manager": "Mo", "notes": "n", "on": "2025-11-02"}, ("notes",)),
    ("/children/C-A/record_child_details", {"on": "2025-09-05", "name": "Al"}, ("name",)),
    ("/children/C-A/erase", {"reason": "r", "on": "2025-09-05"}, ("reason",)),
]  # fmt: skip
QUERIES = [
    ("/drift", "agency"), ("/drift", "lead"), ("/drift", "policy"), ("/drift", "clock"),
    ("/drift", "as_at"), ("/alerts", "for"), ("/deadlines", "as_at"), ("/caseloads", "as_at"),
    ("/episodes/EH-A/timeline", "as_at"), ("/audit-reports", "by"), ("/access-log", "limit"),
    ("/drift", "known_at"), ("/alerts", "known_at"), ("/episodes/EH-A", "known_at"),
    ("/exports/annex-a", "inspection_date"), ("/exports/chronology/EH-A", "known_at"),
]  # fmt: skip


class Served:
    def __init__(self, url: str, base: str, token: str) -> None:
        self.url, self.base, self.token = url, base, token
        self.store = Services(url)

    def events(self) -> int:
        return int(self.store.app.recorder.max_notification_id() or 0)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return call(self.base, self.token, method, path, body)

    def raw(self, method: str, path: str, body: bytes | Iterator[bytes] = b"",
            length: int | None = None, chunked: bool = False) -> tuple[int, Any]:  # fmt: skip
        """Send bytes as they are (chunked, or with a Content-Length that may be a lie) and read
        the answer as soon as it comes, even before the whole body is sent."""
        host, port = self.base.removeprefix("http://").split(":")
        head = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {self.token}",
                "Content-Type: application/json", "Connection: close"]  # fmt: skip
        chunks = [body] if isinstance(body, bytes) else body
        if chunked:
            head.append("Transfer-Encoding: chunked")
        else:
            head.append(f"Content-Length: {len(body) if length is None else length}")  # type: ignore[arg-type]
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            try:
                for chunk in chunks:
                    if select.select([sock], [], [], 0)[0]:
                        break  # answered already
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                else:
                    if chunked:
                        sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            answer = b""
            try:
                while part := sock.recv(65536):
                    answer += part
            except ConnectionResetError:
                pass
        status_line, _, rest = answer.partition(b"\r\n")
        headers, _, content = rest.partition(b"\r\n\r\n")
        assert b"application/problem+json" in headers.lower(), answer[:500]
        return int(status_line.split()[1]), json.loads(content)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp(request.param)
    schema = None
    if request.param == "sqlite":
        url = str(tmp / "hostile.db")
    else:
        server, schema = postgres_server_url(), f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{server}{'&' if '?' in server else '?'}schema={schema}"
    token = ehqa(url, "tokens", "create", "--role", "admin", "--name", "hostile")
    try:
        with serving(url, tmp) as base:
            found = Served(url, base, token)
            status, body = found.call(
                "POST", "/episodes", {**OPEN, "episode": "EH-A", "child": "C-A"}
            )
            assert status == 201, body
            status, body = found.call("POST", "/audits", {"reference": "AU-A", "episode": "EH-A",
                                                          "scheme": "st_helens", "on": "2025-11-01", "auditor": "Aud"})  # fmt: skip
            assert status == 201, body
            yield found
            found.store.close()
    finally:
        if schema:
            with psycopg.connect(postgres_server_url(), autocommit=True) as conn:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


def spoil(body: dict[str, Any], where: tuple[str | int, ...], value: str) -> dict[str, Any]:
    copied = json.loads(json.dumps(body))
    inner = copied
    for key in where[:-1]:
        inner = inner[key]
    inner[where[-1]] = value
    return copied


def still_well(served: Served, before: int) -> None:
    assert served.events() == before, "something was recorded"
    status, body = served.call("GET", "/ready")
    assert status == 200, body


@pytest.mark.parametrize(("path", "body", "where"), FIELDS,
                         ids=[f"{p}:{'.'.join(map(str, w))}" for p, _, w in FIELDS])  # fmt: skip
def test_a_control_character_in_any_field_is_refused_naming_it(
    served: Served, path: str, body: dict[str, Any], where: tuple[str | int, ...]
) -> None:
    before = served.events()
    name = ".".join(map(str, where))
    for char in HOSTILE:
        status, problem = served.call("POST", path, spoil(body, where, f"a{char}b"))
        if char == "\ud800":  # not a character: refused before the body is read as fields
            assert (status, problem["status"]) == (400, 400), problem
            assert "unpaired surrogate (U+D800)" in problem["detail"]
        else:
            assert status == 422, (char, problem)
            assert (
                f"{name}: contains a control character (U+{ord(char):04X}) at position 1"
                in problem["detail"]
            )
    # too long: 10,001 characters of free text, 201 of a name, 65 of a reference
    status, problem = served.call("POST", path, spoil(body, where, "x" * 10_001))
    assert status == 422 and name in problem["detail"] and "at most" in problem["detail"], problem
    still_well(served, before)


@pytest.mark.parametrize(("path", "parameter"), QUERIES)
def test_a_control_character_in_any_query_parameter_is_refused_naming_it(
    served: Served, path: str, parameter: str
) -> None:
    before = served.events()
    for char in CONTROLS:
        status, problem = served.call("GET", f"{path}?{parameter}={quote(f'a{char}b')}")
        assert status == 400, (char, problem)
        assert problem["detail"].startswith(f"query parameter '{parameter}': contains"), problem
    for bad in ("a%FFb", "a%ED%A0%80b"):  # (the second: U+D800 written as if it were UTF-8)
        status, problem = served.call("GET", f"{path}?{parameter}={bad}")
        assert status == 400 and "not valid UTF-8" in problem["detail"], problem
    status, problem = served.call("GET", f"{path}?{parameter}={'x' * 1001}")
    assert status == 400 and "at most 1,000" in problem["detail"], problem
    still_well(served, before)


def test_a_control_character_in_a_path_segment_is_refused(served: Served) -> None:
    before = served.events()
    for path in ("/episodes/EH%00A", "/episodes/EH%1BA/timeline", "/audits/AU%7FA",
                 "/episodes/EH%C2%85A/record_consent", "/episodes/EH%FFA"):  # fmt: skip
        method = "POST" if path.endswith("record_consent") else "GET"
        status, problem = served.call(method, path, {"on": "2025-09-02", "agencies": ["school"]}
                                      if method == "POST" else None)  # fmt: skip
        assert status == 400 and problem["detail"].startswith("path segment"), problem
    still_well(served, before)


def reason_body(size: int) -> Iterator[bytes]:
    yield b'{"on": "2025-09-05", "clock": "assessment", "reason": "'
    for _ in range(size // MIB):
        yield b"x" * MIB
    yield b'"}'


@pytest.mark.parametrize("mib", [8, 20])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_big_field_or_body_is_refused_with_413_from_its_length_or_as_it_streams(
    served: Served, mib: int, chunked: bool
) -> None:
    before = served.events()
    length = mib * MIB + 57
    status, problem = served.raw("POST", "/episodes/EH-A/record_exception", reason_body(mib * MIB),
                                 length=length, chunked=chunked)  # fmt: skip
    assert (status, problem["status"]) == (413, 413), problem
    assert ("sent more than" if chunked else f"declares {length:,} bytes") in problem["detail"]
    still_well(served, before)


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"[" * 100_000, "nests deeper than 32 levels"),
        (b'{"on":' * 50_000, "nests deeper than 32 levels"),
        (b'{"on": "2025-09-05", "clock": "assessment", "reason": "r"', "not valid JSON"),
        (b'{"on": 2025-09-05}', "not valid JSON"),
        (b'{"reason": "\xff\xfe"}', "not valid UTF-8 (byte 0xFF at 12)"),
        (b'{"reason": "\xc3"}', "not valid UTF-8"),
        (b'{"reason": "\\udc00"}', "unpaired surrogate (U+DC00)"),
    ],
    ids=["brackets", "objects", "truncated", "bare-date", "bad-byte", "cut-sequence", "surrogate"],
)
def test_malformed_bodies_are_refused_with_400(served: Served, body: bytes, detail: str) -> None:
    before = served.events()
    for chunked in (False, True):
        status, problem = served.raw(
            "POST", "/episodes/EH-A/record_exception", body, chunked=chunked
        )
        assert (status, problem["title"]) == (400, "Bad Request"), problem
        assert detail in problem["detail"], problem
    still_well(served, before)


def test_a_hostile_session_leaves_the_views_whole(served: Served) -> None:
    """After everything above, the episode reads as it was: nothing of it reached the views."""
    status, episode = served.call("GET", "/episodes/EH-A")
    assert status == 200 and episode["version"] == 1, episode
    status, rows = served.call("GET", "/drift?agency=school")
    assert status == 200, rows


# ---- the command line --------------------------------------------------------------------------

IMPORT_FIELDS: list[tuple[dict[str, Any], tuple[str | int, ...]]] = [
    ({"cmd": "open", "episode": "EH-C", "on": "2025-09-01", "child": "C-C", "lead": {"name": "Jo", "agency": "school"}, "policy": "st-helens"}, w)
    for w in [("episode",), ("child",), ("lead", "name"), ("lead", "agency"), ("policy",)]
] + [
    ({"cmd": "record_consent", "episode": "EH-A", "on": "2025-09-05", "agencies": ["school"]}, ("agencies", 0)),
    ({"cmd": "record_exception", "episode": "EH-A", "on": "2025-09-05", "clock": "assessment", "reason": "r"}, ("reason",)),
    ({"cmd": "close", "episode": "EH-A", "on": "2025-09-05", "reason": "outcomes_achieved", "summary": "s"}, ("summary",)),
    ({"cmd": "change_lead", "episode": "EH-A", "on": "2025-09-05", "lead": {"name": "Al", "agency": "school"}}, ("lead", "name")),
]  # fmt: skip


def run(url: str, *args: str) -> Any:
    """The command line in this process (a process per case would be slow)."""
    result = CliRunner().invoke(cli, ["--db", url, *args], env={"EHQA_TODAY": "2025-11-20"})
    gc.collect()  # (the command's store connections are closed when it is collected)
    return result


def test_the_import_refuses_every_control_character_in_every_field(
    served: Served, tmp_path: Path
) -> None:
    before = served.events()
    file = tmp_path / "hostile.jsonl"
    for n, (line, where) in enumerate(IMPORT_FIELDS):
        # (two characters a field, in turn: every field and every character is tried, quickly)
        for char in (HOSTILE[n % len(HOSTILE)], HOSTILE[(n + 3) % len(HOSTILE)]):
            file.write_text(json.dumps(spoil(line, where, f"a{char}b")) + "\n")
            result = run(served.url, "apply", str(file))
            assert result.exit_code == 1, result.output
            name = ".".join(map(str, where))
            assert f"line 1: field '{name}': contains " in result.output, result.output
    for content, detail in [
        (b"[" * 100_000 + b"\n", "nested too deeply"),
        (b'{"cmd": "close", "episode": "EH-\xff"}\n', "not valid UTF-8 (byte 0xFF at column 33)"),
        (b'{"cmd": "close", \n', "not valid JSON"),
    ]:
        file.write_bytes(content)
        result = run(served.url, "apply", str(file))
        assert result.exit_code == 1 and detail in result.output, result.output
    still_well(served, before)


@pytest.mark.parametrize("mib", [8, 20])
def test_the_import_refuses_a_big_field_in_a_real_process(
    served: Served, tmp_path: Path, mib: int
) -> None:
    before = served.events()
    file = tmp_path / "big.jsonl"
    line = {"cmd": "record_exception", "episode": "EH-A", "on": "2025-09-05", "clock": "assessment",
            "reason": "x" * (mib * MIB)}  # fmt: skip
    file.write_text(json.dumps(line) + "\n")
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "ehqa", "--db", served.url, "apply", str(file)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 1
    assert f"field 'reason': is {mib * MIB:,} characters long; at most 10,000" in result.stderr
    still_well(served, before)


OPTIONS = [
    (["audit", "concern", "AU-A", "--note", "{}"], "--note"),
    (["audit", "score", "AU-A", "A1", "3", "--evidence", "{}"], "--evidence"),
    (["audit", "score", "AU-A", "A1", "3", "--evidence", "e", "--override-reason", "{}"], "--override-reason"),
    (["audit", "complete", "AU-A", "--reason", "{}"], "--reason"),
    (["audit", "action", "AU-A", "1", "--who", "{}", "--what", "w"], "--who"),
    (["audit", "action", "AU-A", "1", "--who", "Jo", "--what", "{}"], "--what"),
    (["audit", "discuss", "AU-A", "--worker", "{}", "--manager", "Mo"], "--worker"),
    (["audit", "discuss", "AU-A", "--worker", "Jo", "--manager", "Mo", "--notes", "{}"], "--notes"),
    (["audit", "assign", "AU-C", "--episode", "EH-A", "--scheme", "st_helens", "--auditor", "{}"], "--auditor"),
    (["audit", "assign", "AU-C", "--episode", "EH-A", "--scheme", "st_helens", "--auditor", "Al", "--reason", "{}"], "--reason"),
    (["drift", "--agency", "{}"], "--agency"),
    (["drift", "--lead", "{}"], "--lead"),
    (["alerts", "--for", "{}"], "--for"),
    (["alerts", "ack", "EH-A/assessment/1/overdue", "--by", "{}"], "--by"),
    (["tokens", "create", "--role", "admin", "--name", "{}"], "--name"),
    (["tokens", "create", "--role", "practitioner", "--name", "P", "--agency", "{}"], "--agency"),
]  # fmt: skip


def test_command_line_options_are_checked_by_the_same_bounds(served: Served) -> None:
    before = served.events()
    for n, (args, option) in enumerate(OPTIONS):
        # (a real argv cannot hold NUL; one character an option, in turn, keeps it quick)
        for char in (CONTROLS[1:][n % 4],):
            result = run(served.url, *[a.replace("{}", f"a{char}b") for a in args])
            assert result.exit_code == 2, (args, result.output)
            assert (
                f"error: option '{option}': contains a control character (U+{ord(char):04X})"
                in result.output
            )
        result = run(served.url, *[a.replace("{}", "x" * 10_001) for a in args])
        assert result.exit_code == 2 and "at most" in result.output, (args, result.output)
    still_well(served, before)


@pytest.mark.parametrize(
    ("path", "body"),
    [("/children/C-A/record_child_details", {"on": "2025-09-05", "name": "Al", "nmae": "Al"}),
     ("/children/C-A/erase", {"reason": "r", "on": "2025-09-05", "by": "someone"})],
)  # fmt: skip
def test_an_unknown_key_in_a_childs_record_is_refused_naming_it(
    served: Served, path: str, body: dict[str, Any]
) -> None:
    before = served.events()
    status, problem = served.call("POST", path, body)
    unknown = next(iter(set(body) - {"on", "name", "reason"}))
    assert status == 422 and unknown in problem["detail"], problem
    still_well(served, before)


BLANKABLE = [f for f in FIELDS if f[2] in {("lead", "name"), ("lead", "agency"), ("who",),
                                          ("worker",), ("manager",), ("name",), ("agencies", 0)}]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "where"), BLANKABLE,
                         ids=[f"{p}:{'.'.join(map(str, w))}" for p, _, w in BLANKABLE])  # fmt: skip
def test_a_blank_name_is_refused_naming_the_field(
    served: Served, path: str, body: dict[str, Any], where: tuple[str | int, ...]
) -> None:
    before = served.events()
    name = ".".join(map(str, where))
    for blank in (" ", "   ", "\u00a0\u3000"):
        status, problem = served.call("POST", path, spoil(body, where, blank))
        assert status == 422, (blank, problem)
        assert f"{name}: must not be blank" in problem["detail"], problem
    still_well(served, before)
