"""Digests of the chain: (date, position, root hash), written to a sink outside the database.

A digest says: on that date the log's running hash at that position was that root. Kept where
the database's administrators cannot rewrite it, it lets `ehqa verify --digests FILE` catch a log
rewritten wholesale (every hash recomputed), which the chain alone cannot.

The file is JSON Lines, one digest a line, in the order written (positions never go down):
`{"date": "2026-11-20", "position": 51, "root": "<64 hex digits>", "written_at": "..."}`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

MAX_LINE = 1_000  # characters in one line of a digest file
KEYS = {"date", "position", "root", "written_at"}
HEX = re.compile(r"[0-9a-f]{64}")


class DigestFileError(ValueError):
    """A digest file that cannot be read: the message names the line and the rule."""


@dataclass(frozen=True)
class Digest:
    date: date
    position: int
    root: bytes

    def line(self, written_at: datetime) -> str:
        return json.dumps({
            "date": self.date.isoformat(), "position": self.position,
            "root": self.root.hex(), "written_at": written_at.isoformat(timespec="seconds"),
        })  # fmt: skip


def read(path: Path) -> Iterator[Digest]:
    """The digests of a file, one line at a time (never the whole file in memory); a line that
    is not a digest, or a position lower than the line before's, raises DigestFileError."""
    try:
        lines = path.open("rb")
    except OSError as error:
        raise DigestFileError(f"{path}: {error.strerror}") from None
    with lines:
        last = 0
        for number, raw in enumerate(lines, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DigestFileError(f"{path}, line {number}: not UTF-8 text") from None
            if not line.strip():
                continue
            digest = parse(line, f"{path}, line {number}")
            if digest.position < last:
                raise DigestFileError(
                    f"{path}, line {number}: position {digest.position} is lower than the line"
                    f" before's ({last}); digests are kept in the order written"
                )
            last = digest.position
            yield digest


def parse(line: str, where: str) -> Digest:
    if len(line) > MAX_LINE:
        raise DigestFileError(f"{where}: longer than {MAX_LINE} characters")
    try:
        found: Any = json.loads(line)
    except ValueError:
        raise DigestFileError(f"{where}: not a JSON object") from None
    if not isinstance(found, dict):
        raise DigestFileError(f"{where}: not a JSON object")
    unknown = sorted(set(found) - KEYS)
    missing = sorted({"date", "position", "root"} - set(found))
    if unknown or missing:
        what = f"unknown key {', '.join(unknown)}" if unknown else f"no {', '.join(missing)}"
        raise DigestFileError(f"{where}: {what} (a digest has date, position, root, written_at)")
    position, root = found["position"], found["root"]
    if type(position) is not int or position < 0:
        raise DigestFileError(f"{where}: position must be a whole number, 0 or more")
    if not isinstance(root, str) or not HEX.fullmatch(root):
        raise DigestFileError(f"{where}: root must be 64 lower-case hex digits")
    try:
        day = date.fromisoformat(found["date"])
    except (TypeError, ValueError):
        raise DigestFileError(f"{where}: date must be YYYY-MM-DD") from None
    return Digest(day, position, bytes.fromhex(root))


def last_date(path: Path) -> date | None:
    """The date of the file's last digest (None: no file, or no digest in it yet)."""
    if not path.exists():
        return None
    last = None
    for digest in read(path):
        last = digest.date
    return last


def append(path: Path, digest: Digest, written_at: datetime) -> None:
    """Add one line to the file (created readable and writable by its owner only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "a") as out:
        out.write(digest.line(written_at) + "\n")
