"""The exports for inspection, checked against rows worked out by hand for the example caseload
(docs/examples/episodes.jsonl) and one more episode, EH-0004, assessed in March and closed in
June 2025: through the command line and the HTTP API, on SQLite and PostgreSQL.

By hand, for an inspection on 25 Nov 2025 (the six months before run from 25 May 2025):
EH-0001 is open (assessment started with consent on 2 Sep, finalised on 26 Sep); EH-0002 is
open (a step-down with a recent social-care assessment: no early help assessment of its own);
EH-0003 is a pre-birth episode whose assessment started on 4 Nov, closed on 21 Nov (stepped up):
in the window, the child unborn (age -1); EH-0004 started its assessment on 5 Mar and closed in
June: out of the window and not open, so not listed. On 5 Sep 2025 the window starts on 5 Mar
(EH-0004 is in, on its first day); on 6 Sep it starts on 6 Mar (EH-0004 is out).
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pypdf
import pytest
from fastapi.testclient import TestClient

from aggregates.access import Role
from ehqa.api import create_app
from ehqa.clock import fixed
from ehqa.services import Services

from .cli.test_cli import EXAMPLE_LINES, ehqa, ok

EH_0004 = [
    '{"cmd":"open","episode":"EH-0004","on":"2025-03-03","child":"C-1004","lead":{"name":"Sam Reed","agency":"youth_service","subject":"token:sam"}}',
    '{"cmd":"record_consent","episode":"EH-0004","on":"2025-03-05","agencies":["youth_service"]}',
    '{"cmd":"record_needs","episode":"EH-0004","on":"2025-03-20","needs":["housing","health"]}',
    '{"cmd":"finalise_assessment","episode":"EH-0004","on":"2025-03-28"}',
    '{"cmd":"close","episode":"EH-0004","on":"2025-06-30","reason":"outcomes_achieved","summary":"Family settled"}',
]
# The children's personal fields: C-1001 born the day after her assessment started, seven years
# earlier (so six on that day); C-1003 unborn (an expected date of birth only); C-1004 fifteen on
# the day his assessment started; C-1002 has none recorded.
CHILDREN = [
    '{"cmd":"record_child_details","child":"C-1001","on":"2025-09-01","date_of_birth":"2018-09-03","gender":"female","ethnicity":"WBRI"}',
    '{"cmd":"record_child_details","child":"C-1003","on":"2025-11-03","expected_date_of_birth":"2026-01-20","gender":"not_known","ethnicity":"NOBT"}',
    '{"cmd":"record_child_details","child":"C-1004","on":"2025-03-03","date_of_birth":"2010-03-05","gender":"male","ethnicity":"MWBA"}',
]
ANNEX_HEADER = (
    "Child Unique ID,Gender,Ethnicity,Date of Birth,Age of Child (Years),Assessment start date,"
    "Assessment completion date,Organisation completing assessment"
)
ANNEX_25_NOV = [
    ANNEX_HEADER,
    "C-1001,b) Female,a) WBRI,03/09/2018,6,02/09/2025,26/09/2025,primary_school",
    "C-1002,,,,,,,early_help_team",
    "C-1003,c) Not stated/recorded,t) NOBT,,-1,04/11/2025,,midwifery",
]
ANNEX_5_SEP = [
    ANNEX_HEADER,
    "C-1004,a) Male,g) MWBA,05/03/2010,15,05/03/2025,28/03/2025,youth_service",
    "C-1001,b) Female,a) WBRI,03/09/2018,6,02/09/2025,,primary_school",
]
ANNEX_6_SEP = [ANNEX_HEADER, "C-1001,b) Female,a) WBRI,03/09/2018,6,02/09/2025,,primary_school"]
SSD_HEADER = (
    "earl_episode_id,earl_person_id,earl_episode_start_date,earl_episode_end_date,"
    "earl_episode_reason,earl_episode_end_reason,earl_episode_organisation,earl_episode_worker_id"
)
SSD_25_NOV = [
    SSD_HEADER,
    "EH-0001,C-1001,2025-09-01,,,,primary_school,",
    "EH-0002,C-1002,2025-10-06,,,,early_help_team,",
    "EH-0003,C-1003,2025-11-03,2025-11-21,,Step-up,midwifery,",
    "EH-0004,C-1004,2025-03-03,2025-06-30,Mental and physical health; Housing,Outcomes met,youth_service,token:sam",  # (needs in the headline-outcome order)
]
SSD_20_NOV = [
    SSD_HEADER,
    "EH-0001,C-1001,2025-09-01,,,,primary_school,",
    "EH-0002,C-1002,2025-10-06,,,,early_help_team,",
    "EH-0003,C-1003,2025-11-03,,,,midwifery,",
    "EH-0004,C-1004,2025-03-03,2025-06-30,Mental and physical health; Housing,Outcomes met,youth_service,token:sam",  # (needs in the headline-outcome order)
]
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def lines(text: str) -> list[str]:
    return text.splitlines()


@pytest.fixture
def caseload(store_url: str, tmp_path: Path) -> str:
    path = tmp_path / "caseload.jsonl"
    path.write_text("\n".join([*EXAMPLE_LINES, *EH_0004, *CHILDREN]) + "\n")
    ok(store_url, "--by", "token:jo", "apply", str(path))
    return store_url


def test_annex_a_list_2_matches_the_rows_worked_by_hand(caseload: str, tmp_path: Path) -> None:
    export = ("export", "annex-a", "--inspection-date")
    assert lines(ok(caseload, *export, "2025-11-25")) == ANNEX_25_NOV
    assert lines(ok(caseload, *export, "2025-09-05")) == ANNEX_5_SEP
    assert lines(ok(caseload, *export, "2025-09-06")) == ANNEX_6_SEP
    blank = lines(ok(caseload, *export, "2025-11-25", "--unborn-age", "blank"))
    assert blank[3] == "C-1003,c) Not stated/recorded,t) NOBT,,,04/11/2025,,midwifery"
    out = tmp_path / "annex.csv"
    ok(caseload, *export, "2025-11-25", "--output", str(out))
    assert out.read_bytes().split(b"\r\n")[:4] == [r.encode() for r in ANNEX_25_NOV]
    ok(caseload, "erase", "C-1004", "--reason", "retention period ended")
    erased = lines(ok(caseload, *export, "2025-09-05"))
    assert erased[1] == "C-1004,,,,,05/03/2025,28/03/2025,youth_service"


def test_ssd_early_help_episodes_match_the_rows_worked_by_hand(caseload: str) -> None:
    assert lines(ok(caseload, "export", "ssd-early-help", "--as-at", "2025-11-25")) == SSD_25_NOV
    assert lines(ok(caseload, "export", "ssd-early-help", "--as-at", "2025-11-20")) == SSD_20_NOV
    assert lines(ok(caseload, "export", "ssd-early-help", "--as-at", "2025-03-04")) == [
        SSD_HEADER, "EH-0004,C-1004,2025-03-03,,,,youth_service,token:sam"
    ]  # fmt: skip


def test_the_chronology_as_html_and_pdf_as_known_at_a_moment(caseload: str, tmp_path: Path) -> None:
    before = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    exception = tmp_path / "exception.jsonl"
    line = {"cmd": "record_exception", "episode": "EH-0001", "on": "2025-11-14",
            "clock": "modified_plan_circulation", "reason": HOSTILE}  # fmt: skip
    exception.write_text(json.dumps(line) + "\n")
    ok(caseload, "--by", "token:ann", "apply", str(exception))
    html = ok(caseload, "export", "chronology", "EH-0001")
    assert "Early Help assessment finalised" in html and "token:jo" in html
    assert "<script>" not in html and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert "token:ann" in html and "modified_plan_circulation" in html
    then = ok(caseload, "export", "chronology", "EH-0001", "--known-at", before)
    assert "Early Help assessment finalised" in then and "token:ann" not in then
    pdf = tmp_path / "c.pdf"
    ok(caseload, "export", "chronology", "EH-0001", "--format", "pdf", "-o", str(pdf))
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(pdf).pages)
    for fact in ("Chronology of episode EH-0001", "Early Help assessment finalised", "token:jo",
                 "token:ann", "2025-09-26", "Review held; plan changed", HOSTILE):  # fmt: skip
        assert fact in " ".join(text.split()), fact
    refused = ehqa(caseload, "export", "chronology", "EH-0001", "--format", "pdf")
    assert refused.returncode == 2 and "--output" in refused.stderr


# ---- the same through the API -------------------------------------------------------------


@pytest.fixture
def http(caseload: str) -> Iterator[tuple[TestClient, dict[str, dict[str, str]]]]:
    services = Services(caseload, clock=fixed(date(2025, 11, 25)))
    app = create_app(services)
    people = {"lp": ("Jo Bright", Role.LEAD_PROFESSIONAL, "primary_school"),
              "lp_out": ("Lee Walsh", Role.LEAD_PROFESSIONAL, "camhs"),
              "inspector": ("An Inspector", Role.INSPECTOR, None)}  # fmt: skip
    tokens = {k: {"Authorization": f"Bearer {app.state.api.tokens.create(*p)}"}
              for k, p in people.items()}  # fmt: skip
    with TestClient(app) as client:
        yield client, tokens
    services.close()


def test_the_exports_through_the_api(http: tuple[TestClient, dict[str, dict[str, str]]]) -> None:
    client, auth = http
    annex = client.get("/exports/annex-a", params={"inspection_date": "2025-11-25"},
                       headers=auth["inspector"])  # fmt: skip
    assert annex.status_code == 200 and annex.headers["content-type"].startswith("text/csv")
    assert lines(annex.text) == ANNEX_25_NOV
    assert "annex-a-list-2-2025-11-25.csv" in annex.headers["content-disposition"]
    ssd = client.get("/exports/ssd-early-help", headers=auth["inspector"])
    assert lines(ssd.text) == SSD_25_NOV
    early = client.get("/exports/ssd-early-help", headers=auth["inspector"],
                       params={"as_at": "2025-11-20"})  # fmt: skip
    assert lines(early.text) == SSD_20_NOV
    known = client.get("/exports/annex-a", headers=auth["inspector"], params={
        "inspection_date": "2025-11-25", "known_at": "2025-01-01T00:00Z"})  # fmt: skip
    assert lines(known.text) == [ANNEX_HEADER]  # nothing was recorded by then
    refused = client.get("/exports/annex-a", params={"inspection_date": "2025-11-25"},
                         headers=auth["lp"])  # fmt: skip
    assert refused.status_code == 403
    page = client.get("/exports/chronology/EH-0001", headers=auth["lp"])
    assert page.status_code == 200 and "Early Help assessment finalised" in page.text
    pdf = client.get("/exports/chronology/EH-0001", params={"format": "pdf"}, headers=auth["lp"])
    assert pdf.headers["content-type"] == "application/pdf"
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Early Help assessment finalised" in text and "token:jo" in text
    hidden = client.get("/exports/chronology/EH-0001", headers=auth["lp_out"])
    assert hidden.status_code == 404  # an agency outside the consent cannot learn it exists
    bad = client.get("/exports/annex-a", params={"inspection_date": "2025-11-25", "nope": "1"},
                     headers=auth["inspector"])  # fmt: skip
    assert bad.status_code == 400 and "'nope'" in bad.text
