"""CSV as the lists are handed over: a header row, then one row per record (RFC 4180, CRLF).

A text cell a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage
return) is written with a leading apostrophe; numbers are written as they are."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[str | int | None]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            ["" if v is None else v if isinstance(v, int) else safe(str(v)) for v in row]
        )
    return out.getvalue()
