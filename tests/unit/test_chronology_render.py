"""The chronology's HTML escapes what was typed into a record; its PDF keeps every character
(set in DejaVu Sans, which scripts/test.sh installs) and is read back with pypdf."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pypdf

from ehqa.exports.chronology import Chronology, to_html
from ehqa.exports.pdf import to_pdf

TYPED = "Zo\u00eb \u0141ukasz said <img src=x onerror=alert(1)> \u2013 \u201cno\u201d"


def chronology() -> Chronology:
    episode = {"child": "C-1", "state": "assessing", "lead": {"name": "Jo", "agency": "school"},
               "opened_on": "2025-09-01", "closed_on": None, "closed_reason": None}  # fmt: skip
    fact = {"on": "2025-09-02", "recorded": "2025-09-03 10:00:00 BST", "event": "ExceptionRecorded",
            "author": "token:ab12", "label": f"Exception recorded: {TYPED}"}  # fmt: skip
    return Chronology("EH-1", datetime(2025, 10, 1, 16, tzinfo=UTC), date(2025, 10, 1), episode,
                      [fact], [], [], [])  # fmt: skip


def test_the_html_shows_typed_text_as_text_never_as_markup() -> None:
    page = to_html(chronology())
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "Zo\u00eb \u0141ukasz" in page
    assert "2025-10-01 17:00:00 BST" in page  # the moment, in Europe/London time


def test_the_pdf_holds_every_fact_and_character() -> None:
    text = " ".join(
        p.extract_text() for p in pypdf.PdfReader(io.BytesIO(to_pdf(chronology()))).pages
    )
    flat = " ".join(text.split())
    for part in ("Chronology of episode EH-1", TYPED, "token:ab12", "2025-09-02", "No alerts."):
        assert part in flat, part
