"""The child's record: personal fields recorded at opening or later and corrected, through
`ehqa record child-details`, the import line and the service's read, on both stores."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from aggregates.child import Ethnicity, Gender, child_id
from ehqa.children import ChildDetails
from ehqa.clock import fixed
from ehqa.services import Services
from tests.e2e.children.helpers import child_json, ehqa, ok, open_episode


def test_details_are_recorded_then_corrected_field_by_field(store_url: str) -> None:
    open_episode(store_url, "EH-1", "C-1")
    ok(store_url, "record", "child-details", "C-1", "--on", "2025-09-01", "--name", "Ada Lovelace",
       "--expected-date-of-birth", "2025-12-01", "--gender", "not_known", "--ethnicity", "NOBT",
       "--postcode", "wa10 1ab")  # fmt: skip
    first = child_json(store_url, "C-1")
    assert first == {"child": "C-1", "name": "Ada Lovelace", "date_of_birth": None,
                     "expected_date_of_birth": "2025-12-01", "gender": "not_known",
                     "ethnicity": "NOBT", "postcode": "WA10 1AB", "erased": False}  # fmt: skip
    # born: the date of birth replaces the expected one; the other fields stay as they were
    ok(store_url, "record", "child-details", "C-1", "--on", "2025-12-03",
       "--date-of-birth", "2025-11-28", "--gender", "female", "--ethnicity", "WBRI")  # fmt: skip
    assert child_json(store_url, "C-1") == {
        **first, "date_of_birth": "2025-11-28", "expected_date_of_birth": None,
        "gender": "female", "ethnicity": "WBRI",
    }  # fmt: skip


def test_bad_fields_are_refused_naming_the_option_and_record_nothing(store_url: str) -> None:
    open_episode(store_url, "EH-1", "C-1")
    cases = [
        (["--postcode", "WA10 1A"], "option '--postcode'", "not a UK postcode"),
        (["--ethnicity", "XXXX"], "option '--ethnicity'", "WBRI"),
        (["--gender", "m"], "option '--gender'", "male"),
        (["--date-of-birth", "2025-10-02"], "date_of_birth 2025-10-02 is after the date", ""),
        (["--expected-date-of-birth", "2026-09-01"], "more than 300 days after", ""),
        (
            ["--date-of-birth", "2020-01-01", "--expected-date-of-birth", "2025-12-01"],
            "not both",
            "",
        ),
        ([], "give at least one of name", ""),
    ]
    for extra, where, rule in cases:
        done = ehqa(store_url, "record", "child-details", "C-1", "--on", "2025-10-01", *extra)
        assert done.returncode == 2, (extra, done.stdout)
        assert where in done.stderr and rule in done.stderr, done.stderr
    assert child_json(store_url, "C-1")["name"] is None
    done = ehqa(store_url, "record", "child-details", "C-1", "--on", "2026-02-01", "--name", "A")
    assert done.returncode == 1 and "in the future" in done.stderr


def test_the_import_line_records_the_same_fields(store_url: str, tmp_path: Path) -> None:
    lines = [
        {"cmd": "open", "episode": "EH-1", "on": "2025-09-01", "child": "C-7",
         "lead": {"name": "Jo Bright", "agency": "primary_school"}},
        {"cmd": "record_child_details", "child": "C-7", "on": "2025-09-01", "name": "Sam Poe",
         "date_of_birth": "2015-04-30", "gender": "male", "ethnicity": "MWBC", "postcode": "L1 8JQ"},
        {"cmd": "record_child_details", "child": "C-7", "on": "2025-09-03", "postcode": "WA9 1LN"},
    ]  # fmt: skip
    file = tmp_path / "steps.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert "applied 3 command(s)" in ok(store_url, "apply", str(file))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**lines[2], "postcode": "nowhere", "on": "2025-09-04"}) + "\n")
    done = ehqa(store_url, "apply", str(bad))
    assert done.returncode == 1 and "line 1: field 'postcode'" in done.stderr
    services = Services(store_url, clock=fixed(date(2026, 1, 15)))
    try:
        assert services.child_details("C-7") == ChildDetails(
            "C-7", "Sam Poe", date(2015, 4, 30), None, Gender.MALE, Ethnicity.MWBC, "WA9 1LN"
        )
        assert services.child_details("C-404") is None
        both = services.children_details(["C-7", "C-404"])
        assert both == {"C-7": services.child_details("C-7"), "C-404": None}
    finally:
        services.close()


def test_the_author_of_each_fact_is_stored_on_it(store_url: str) -> None:
    open_episode(store_url, "EH-1", "C-1")
    ok(store_url, "--by", "token:ab12", "record", "child-details", "C-1", "--on", "2025-09-02",
       "--name", "Kit Marlowe")  # fmt: skip
    services = Services(store_url)
    try:
        events = list(services.app.repository.event_store.get(child_id("C-1")))
        assert [type(e).__name__ for e in events] == ["Registered", "DetailsRecorded"]
        assert {e.author for e in events} == {"token:ab12"}  # type: ignore[attr-defined]
    finally:
        services.close()
