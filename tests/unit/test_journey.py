"""The journey picture: each clock's end marked in shape, colour and words, accessibly."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

from aggregates.clocks import ClockEntry, Status
from aggregates.policy import ClockName
from ehqa.web.journey import picture

SVG = "{http://www.w3.org/2000/svg}"
TODAY = date(2026, 3, 2)


def clock(name: str, status: Status, started: str, due: str, stopped: str | None = None,
          late: int = 0, exception: str | None = None, occurrence: int = 1) -> ClockEntry:  # fmt: skip
    return ClockEntry(ClockName(name), occurrence, date.fromisoformat(started),
                      date.fromisoformat(due), stopped and date.fromisoformat(stopped), status,
                      late, exception)  # fmt: skip


def draw(*entries: ClockEntry, events=(), alerts=(), as_at: date = TODAY,
         closed_on: date | None = None) -> ET.Element:  # fmt: skip
    return ET.fromstring(picture("EP-1", entries, list(events), list(alerts), today=TODAY,
                                 as_at=as_at, closed_on=closed_on))  # fmt: skip


def clocks(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-clock"): g for g in root.iter(f"{SVG}g") if g.get("class") == "clock"}


def words(element: ET.Element) -> str:
    return " ".join(t.strip() for t in element.itertext())


def test_a_clock_met_on_its_due_date_is_drawn_on_time():
    root = draw(clock("assessment", Status.MET, "2026-01-05", "2026-02-02", "2026-02-02"))
    drawn = clocks(root)["assessment"]
    assert drawn.get("data-status") == "on-time"
    assert "Assessment: on time" in words(drawn)
    assert drawn.find(f"{SVG}circle[@class='stop']") is not None


def test_a_clock_stopped_after_its_due_date_is_drawn_late_without_a_reason():
    root = draw(clock("fam", Status.LATE, "2026-01-05", "2026-01-19", "2026-01-23", late=4))
    drawn = clocks(root)["fam"]
    assert drawn.get("data-status") == "late"
    assert "late, no reason recorded, 4 working days late" in words(drawn)
    assert drawn.find(f"{SVG}path[@class='stop']") is not None


def test_a_late_clock_with_an_exception_recorded_says_so_and_gives_the_reason():
    root = draw(clock("fam", Status.LATE, "2026-01-05", "2026-01-19", "2026-01-23", late=4,
                      exception="family on holiday"))  # fmt: skip
    drawn = clocks(root)["fam"]
    assert drawn.get("data-status") == "late-with-reason"
    assert "family on holiday" in words(drawn)


def test_running_overdue_missed_and_ended_clocks_are_told_apart():
    root = draw(
        clock("child_seen", Status.PENDING, "2026-02-20", "2026-03-20"),
        clock("first_review", Status.OVERDUE, "2026-01-05", "2026-02-16", late=10),
        clock("gcp2", Status.MISSED, "2026-01-05", "2026-01-20", late=2),
        clock("plan_circulation", Status.CANCELLED, "2026-01-05", "2026-03-30"),
        closed_on=date(2026, 1, 22),
    )
    found = {name: g.get("data-status") for name, g in clocks(root).items()}
    assert found == {"child_seen": "running", "first_review": "overdue", "gcp2": "missed",
                     "plan_circulation": "ended"}  # fmt: skip


def test_the_picture_is_an_image_labelled_by_its_title_and_description():
    root = draw(clock("assessment", Status.MET, "2026-01-05", "2026-02-02", "2026-01-30"))
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby").split()
    ids = {e.get("id"): e for e in root.iter() if e.get("id")}
    assert ids[title_id].text == "Journey of episode EP-1"
    assert "1 clock as at 2026-03-02: 1 on time" in ids[desc_id].text


def test_events_exceptions_alerts_today_and_the_as_at_date_are_marked_with_words():
    events = [{"on": "2026-01-05", "event": "Opened", "label": "Referral received"},
              {"on": "2026-01-20", "event": "ExceptionRecorded", "label": "Exception on FAM"}]  # fmt: skip
    alerts = [{"rung": "overdue", "clock": "fam", "fell_due_on": "2026-01-20",
               "raised_on": "2026-01-21", "acknowledged_by": None}]  # fmt: skip
    root = draw(clock("fam", Status.OVERDUE, "2026-01-05", "2026-01-19", late=5), events=events,
                alerts=alerts, as_at=date(2026, 2, 1))  # fmt: skip
    marks = {(g.get("class"), g.get("data-on")): words(g) for g in root.iter(f"{SVG}g")}
    assert "Referral received" in marks[("event", "2026-01-05")]
    assert "Exception on FAM" in marks[("exception", "2026-01-20")]
    assert "alert overdue on fam" in marks[("alert", "2026-01-21")]
    lines = [words(g) for g in root.iter(f"{SVG}g") if g.get("class") == "date-line"]
    assert any("today 2026-03-02" in text for text in lines)
    assert any("as at 2026-02-01" in text for text in lines)


def test_text_from_the_record_is_escaped():
    events = [{"on": "2026-01-05", "event": "Opened", "label": "<script>x</script> & co"}]
    root = draw(events=events)
    assert "<script>x</script> & co" in " ".join(words(g) for g in root.iter(f"{SVG}g"))
