"""`ehqa retention due` and `GET /retention/due` against hand-worked dates, on both stores; and
who may read and record a child's record over HTTP."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from aggregates.child import child_id
from ehqa.clock import fixed
from ehqa.services import Services
from tests.e2e.children.helpers import http, ok, serving

LEAD = {"name": "Jo Bright", "agency": "primary_school"}


def _lines(tmp_path: Path) -> Path:
    """C-1: born 2000-05-01, closed 2019-03-01 -> 25th birthday 2025-05-01 (later than
    2025-03-01). C-2: no date of birth, closed 2019-03-01 -> 2025-03-01 by closure alone.
    C-3: closed 2024-01-10 -> 2030. C-4: open. C-5: erased."""
    lines: list[dict[str, object]] = []
    for child, opened, closed in (("C-1", "2019-01-10", "2019-03-01"),
                                  ("C-2", "2019-01-10", "2019-03-01"),
                                  ("C-3", "2023-06-01", "2024-01-10"),
                                  ("C-4", "2019-01-10", None),
                                  ("C-5", "2018-01-10", "2018-02-01")):  # fmt: skip
        episode = "EH-" + child
        lines.append(
            {"cmd": "open", "episode": episode, "on": opened, "child": child, "lead": LEAD}
        )
        if closed:
            lines.append({"cmd": "close", "episode": episode, "on": closed,
                          "reason": "no_further_action", "summary": "Closed"})  # fmt: skip
    lines.append({"cmd": "record_child_details", "child": "C-1", "on": "2019-01-10",
                  "date_of_birth": "2000-05-01"})  # fmt: skip
    lines.append({"cmd": "record_child_details", "child": "C-4", "on": "2019-01-10",
                  "date_of_birth": "1990-01-01"})  # fmt: skip
    file = tmp_path / "caseload.jsonl"
    file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return file


def test_the_children_due_and_the_rule_for_each(store_url: str, tmp_path: Path) -> None:
    ok(store_url, "apply", str(_lines(tmp_path)))
    ok(store_url, "erase", "C-5", "--reason", "retention")
    assert "no child is due for erasure on 2025-02-28" in ok(
        store_url, "retention", "due", "--as-at", "2025-02-28"
    )
    found = json.loads(ok(store_url, "retention", "due", "--as-at", "2025-06-01", "--json"))
    assert [(row["child"], row["due_on"]) for row in found] == [
        ("C-2", "2025-03-01"), ("C-1", "2025-05-01"),
    ]  # fmt: skip
    assert found[1]["rule"] == "25th birthday (2000-05-01 + 25 years)"
    assert found[0]["rule"].startswith("6 years after the latest closure (2019-03-01)")
    assert "date of birth is not known" in found[0]["rule"]
    services = Services(store_url, clock=fixed(date(2025, 6, 1)))
    try:
        with serving(services) as (base, tokens):
            status, answer = http(base, tokens["coordinator"], "GET", "/retention/due")
            assert status == 200 and answer == found
            assert http(base, tokens["lead"], "GET", "/retention/due")[0] == 403
            status, answer = http(base, tokens["admin"], "GET", "/retention/due?as_at=2031-01-01")
            assert [row["child"] for row in answer] == ["C-2", "C-1", "C-3"]
            assert http(base, tokens["admin"], "GET", "/retention/due?as_at=x")[0] == 422
    finally:
        services.close()


def test_who_may_read_and_record_a_childs_record(sqlite_url: str) -> None:
    services = Services(sqlite_url, clock=fixed(date(2026, 1, 15)))
    try:
        with serving(services) as (base, tokens):
            lead, other = tokens["lead"], tokens["other"]
            assert http(base, lead, "POST", "/episodes", {"episode": "EH-1", "on": "2025-09-01",
                        "child": "C-1", "lead": LEAD})[0] == 201  # fmt: skip
            body = {"on": "2025-09-01", "name": "Ivo Pemberton", "ethnicity": "BAFR"}
            path = "/children/C-1/record_child_details"
            # another agency's lead cannot learn the child exists
            assert http(base, other, "POST", path, body)[0] == 404
            assert http(base, other, "GET", "/children/C-1")[0] == 404
            assert http(base, other, "GET", "/children/C-404")[0] == 404
            # bad input: 422 naming the field, nothing recorded
            status, problem = http(base, lead, "POST", path, {**body, "postcode": "12345"})
            assert status == 422 and "postcode" in json.dumps(problem)
            status, problem = http(
                base, lead, "POST", path, {**body, "date_of_birth": "2025-09-02"}
            )
            assert status == 422 and "after the date recorded" in json.dumps(problem)
            assert http(base, lead, "POST", path, {**body, "shoe_size": 3})[0] == 422
            assert http(base, lead, "GET", "/children/C-1")[1]["name"] is None
            assert http(base, lead, "POST", path, body) == (
                200, {"child": "C-1", "recorded": ["ethnicity", "name"]}
            )  # fmt: skip
            assert http(base, lead, "GET", "/children/C-1")[1]["ethnicity"] == "BAFR"
            assert http(base, lead, "POST", "/children/C-1/erase", {"reason": "x"})[0] == 403
        events = list(services.app.repository.event_store.get(child_id("C-1")))
        authors = {event.author for event in events}  # type: ignore[attr-defined]
        assert len(authors) == 1 and authors.pop().startswith("token:")
    finally:
        services.close()
