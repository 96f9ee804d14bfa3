"""The alert ladder and the episode's own alert rules."""

from datetime import date

import pytest

from aggregates.alerts import Rung, alert_id, ladder, recipients
from aggregates.errors import InvalidCommandError
from aggregates.policy import ClockName, Escalation

from .builders import CAL, TODAY, clock, consented, policy

D = date
ESCALATION = Escalation(coordinator="Co-ordinator", team_manager="Team manager")


def test_the_ladder_crosses_the_coronation_bank_holidays() -> None:
    rungs = ladder(D(2023, 5, 5), ESCALATION, CAL)
    assert rungs.due_soon_on == D(2023, 5, 2)  # 3 working days before, skipping Mon 1 May
    assert rungs.overdue_on == D(2023, 5, 9)  # the working day after Fri 5 May is Tue 9 May
    assert rungs.escalated_on == D(2023, 5, 22)  # 10 working days after the due date


def test_rungs_fall_due_in_order() -> None:
    rungs = ladder(D(2023, 5, 5), ESCALATION, CAL)
    assert rungs.fell_due(D(2023, 5, 1)) == []
    assert [r for r, _ in rungs.fell_due(D(2023, 5, 8))] == [Rung.DUE_SOON]
    assert [r for r, _ in rungs.fell_due(D(2023, 5, 9))] == [Rung.DUE_SOON, Rung.OVERDUE]
    assert rungs.next_after({Rung.DUE_SOON}) == (Rung.OVERDUE, D(2023, 5, 9))
    assert rungs.next_after(set(Rung)) is None


def test_each_rung_tells_more_people() -> None:
    assert recipients(Rung.DUE_SOON, "Jo", ESCALATION) == ["Jo"]
    assert recipients(Rung.OVERDUE, "Jo", ESCALATION) == ["Jo", "Co-ordinator"]
    assert recipients(Rung.ESCALATED, "Jo", ESCALATION) == ["Jo", "Co-ordinator", "Team manager"]
    assert recipients(Rung.DUE_SOON, None, ESCALATION) == ["Co-ordinator"]


def test_st_helens_escalates_after_10_working_days() -> None:
    assert policy().escalation.escalate_after_working_days == 10
    assert policy("bnes").escalation == policy().escalation


def raise_assessment(episode, rung: Rung, today: date = TODAY) -> bool:  # type: ignore[no-untyped-def]
    return bool(episode.raise_alert(clock=ClockName.ASSESSMENT, occurrence=1, rung=rung,
                                    fell_due_on=D(2024, 2, 1), recipients=["Jo"], today=today))  # fmt: skip


def test_an_alert_is_raised_once_however_often_it_is_asked_for() -> None:
    episode = consented(on=D(2024, 1, 3))
    assert raise_assessment(episode, Rung.OVERDUE)
    version = episode.version
    assert not raise_assessment(episode, Rung.OVERDUE)
    assert episode.version == version
    assert alert_id("EH-1", "assessment", 1, "overdue") in episode.alerts


def test_no_alert_for_a_clock_that_is_not_running() -> None:
    episode = consented(on=D(2024, 1, 3))
    episode.finalise_assessment(D(2024, 2, 5), TODAY)
    assert not raise_assessment(episode, Rung.OVERDUE)
    assert not episode.raise_alert(clock=ClockName.FAM, occurrence=1, rung=Rung.OVERDUE,
                                   fell_due_on=D(2024, 2, 1), recipients=["Jo"], today=TODAY)  # fmt: skip


def test_the_awaited_step_clears_the_alert_and_the_lateness_stays() -> None:
    episode = consented(on=D(2024, 1, 3))
    raise_assessment(episode, Rung.OVERDUE)
    episode.record_exception("assessment", "Parent in hospital", D(2024, 2, 2), TODAY)
    episode.finalise_assessment(D(2024, 2, 5), TODAY)
    episode.clear_settled_alerts()
    alert = episode.alerts["EH-1/assessment/1/overdue"]
    assert alert["cleared_on"] == D(2024, 2, 5)
    entry = clock(episode, "assessment")
    assert (entry.status.value, entry.working_days_late, entry.exception) == (
        "late",
        3,
        "Parent in hospital",
    )


def test_closing_the_episode_clears_its_alerts() -> None:
    episode = consented(on=D(2024, 1, 3))
    raise_assessment(episode, Rung.DUE_SOON)
    episode.close("transferred_out", "Moved away", D(2024, 1, 20), TODAY)
    episode.clear_settled_alerts()
    assert episode.alerts["EH-1/assessment/1/due_soon"]["cleared_on"] == D(2024, 1, 20)


def test_an_alert_is_acknowledged_once_by_someone() -> None:
    episode = consented(on=D(2024, 1, 3))
    raise_assessment(episode, Rung.OVERDUE)
    ident = "EH-1/assessment/1/overdue"
    with pytest.raises(InvalidCommandError, match="no alert EH-1/fam/1/overdue"):
        episode.acknowledge_alert("EH-1/fam/1/overdue", "Jo", TODAY)
    episode.acknowledge_alert(ident, "Jo", TODAY)
    with pytest.raises(InvalidCommandError, match="acknowledged by Jo"):
        episode.acknowledge_alert(ident, "Sam", TODAY)
