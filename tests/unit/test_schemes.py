"""The four grading schemes, from the seed documents' own rules and examples."""

from __future__ import annotations

import pytest

from aggregates.errors import InvalidCommandError
from aggregates.schemes import (
    ASSESSMENT_ITEMS,
    NOT_APPLICABLE,
    REVIEW_ITEMS,
    Grade,
    Item,
    Rag,
    bnes_summary,
    check_bnes,
    check_flag,
    check_flags,
    check_score,
    darlington,
    section_grades,
    st_helens,
    st_helens_value,
    what_makes_good,
)

O, G, RI, I = Grade.OUTSTANDING, Grade.GOOD, Grade.REQUIRES_IMPROVEMENT, Grade.INADEQUATE  # noqa: E741


def scores_totalling(total: int, items: list[Item]) -> dict[str, int]:
    """Scores that add up to `total`, each within what its item allows."""
    scores, left = {}, total
    for item in items:
        give = min(max(item.scores), left)
        while give not in item.scores:
            give -= 1
        scores[item.code] = give
        left -= give
    assert left == 0, f"{total} is more than these items can score"
    return scores


def with_review(assessment_total: int, review_total: int) -> dict[str, int]:
    return {
        **scores_totalling(assessment_total, ASSESSMENT_ITEMS),
        **scores_totalling(review_total, REVIEW_ITEMS),
    }


@pytest.mark.parametrize(
    ("total", "grade"),
    [(0, I), (13, I), (14, RI), (26, RI), (27, G), (40, G), (41, O), (53, O)],
)
def test_every_boundary_of_the_assessment_score_bands(total: int, grade: Grade) -> None:
    """(The form's bands run to 54, but its own items allow 53 at most: five have no Exceeded
    and two are met or not met. Likewise the review bands run to 30 and the items allow 27.)"""
    result = st_helens(with_review(total, 15), review_audited=False)
    assert result.assessment == grade


@pytest.mark.parametrize(
    ("total", "grade"),
    [(0, I), (7, I), (8, RI), (14, RI), (15, G), (22, G), (23, O), (27, O)],
)
def test_every_boundary_of_the_review_score_bands(total: int, grade: Grade) -> None:
    result = st_helens(with_review(27, total), assessment_audited=False)
    assert result.review == grade


def test_items_without_exceeded_or_partially_met_refuse_those_scores() -> None:
    check_score("A4", 3)
    with pytest.raises(InvalidCommandError, match="A2 is scored 0 not met, 1 partially met, 2 met"):
        check_score("A2", 3)
    with pytest.raises(InvalidCommandError, match="A10 is scored 0 not met, 2 met"):
        check_score("A10", 1)
    with pytest.raises(InvalidCommandError, match="A20 is scored 0 not met, 2 met"):
        check_score("A20", 3)
    with pytest.raises(InvalidCommandError, match="unknown St Helens item 'A21'"):
        check_score("A21", 1)


def test_a_section_is_graded_only_when_every_item_is_scored() -> None:
    scores = with_review(30, 15)
    del scores["A7"]
    with pytest.raises(InvalidCommandError, match="items not scored yet: A7"):
        st_helens(scores)


def without_r8(total: int) -> dict[str, int | str]:
    """Review scores totalling `total` with R8 not applicable (a single-agency plan)."""
    others = [item for item in REVIEW_ITEMS if item.code != "R8"]
    return {**scores_totalling(total, others), "R8": NOT_APPLICABLE}


@pytest.mark.parametrize(
    ("total", "grade"),
    # The other nine review items allow 24 of the 27: the bands 8, 15 and 23 (of 27) scale to
    # 7.1, 13.3 and 20.4 (of 24), so 8, 14 and 21 are the lowest totals of RI, Good, Outstanding.
    [(0, I), (7, I), (8, RI), (13, RI), (14, G), (20, G), (21, O), (24, O)],
)
def test_r8_not_applicable_is_unscored_and_the_bands_scale_to_the_items_that_apply(
    total: int, grade: Grade
) -> None:
    result = st_helens(without_r8(total), assessment_audited=False)
    assert result.review == grade
    assert section_grades("st_helens", without_r8(total)) == {"review": grade.label}


def test_r8_not_applicable_is_not_the_same_as_not_met() -> None:
    scored_zero = {**without_r8(21), "R8": 0}  # 21 of 27: Good
    assert st_helens(scored_zero, assessment_audited=False).review == G
    assert st_helens(without_r8(21), assessment_audited=False).review == O


def test_only_r8_may_be_scored_not_applicable() -> None:
    assert st_helens_value("R8", "n/a") == NOT_APPLICABLE
    assert st_helens_value("R8", "Not applicable") == NOT_APPLICABLE
    assert st_helens_value("R8", "2") == 2
    with pytest.raises(InvalidCommandError, match=r"R6 always applies \(only R8 may be n/a\)"):
        st_helens_value("R6", "n/a")
    with pytest.raises(InvalidCommandError, match="A2 is scored 0 not met, 1 partially met, 2 met"):
        st_helens_value("A2", 3)


@pytest.mark.parametrize(
    ("assessment", "review", "closure", "overall"),
    [
        (27, 15, None, G),  # both Good
        (27, 8, None, RI),  # two sections differ: the review section decides
        (14, 15, None, G),  # and the other way round
        (41, 15, G, G),  # majority
        (27, 8, RI, RI),  # majority
        (41, 15, RI, G),  # no majority: the review section decides
    ],
)
def test_the_overall_grade_is_the_majority_and_the_review_weighs_more(
    assessment: int, review: int, closure: Grade | None, overall: Grade
) -> None:
    assert st_helens(with_review(assessment, review), closure=closure).overall == overall


def test_the_childs_voice_absent_caps_the_grade_at_requires_improvement() -> None:
    result = st_helens(with_review(41, 23), childs_voice_absent=True)
    assert result.overall == RI
    assert "child's voice is absent" in result.reasons[0]
    assert st_helens(with_review(0, 0), childs_voice_absent=True).overall == I


def test_safeguarding_not_considered_makes_it_inadequate() -> None:
    assert st_helens(with_review(53, 27), closure=O, safeguarding_not_considered=True).overall == I


def test_a_step_down_is_audited_without_the_assessment_section() -> None:
    result = st_helens(scores_totalling(23, REVIEW_ITEMS), assessment_audited=False, closure=G)
    assert (result.assessment, result.review, result.overall) == (None, O, O)


@pytest.mark.parametrize(
    ("sections", "proposed", "moderate"),
    [
        ((O, O, O, G), O, False),  # the seed's own example
        ((O, O, O, O), O, False),
        ((O, O, O, RI), G, True),  # cannot be Outstanding with one section RI: moderate
        ((O, O, O, I), G, True),
        ((G, G, G, I), RI, True),
        ((G, G, G, O), G, False),
        ((O, O, G, G), G, False),
        ((RI, RI, RI, G), RI, False),
        ((RI, RI, RI, I), RI, False),
        ((I, I, RI, G), I, False),
    ],
)
def test_what_makes_good_needs_three_sections_at_the_grade(
    sections: tuple[Grade, ...], proposed: Grade, moderate: bool
) -> None:
    names = ("assessment", "initial_meeting", "review_meetings", "outcomes")
    result = what_makes_good(dict(zip(names, sections, strict=True)))
    assert (result.proposed, result.needs_moderation) == (proposed, moderate)
    if moderate:
        assert result.options == (G, RI)


def test_what_makes_good_needs_all_four_sections() -> None:
    with pytest.raises(InvalidCommandError, match="sections not graded yet: outcomes"):
        what_makes_good({"assessment": G, "initial_meeting": G, "review_meetings": G})


def test_darlington_grades_eight_dimensions_1_to_4_and_proposes_their_median() -> None:
    dims = ["pre_eha_activity", "assessment", "planning", "review", "voice_of_the_child",
            "multi_agency_working", "impact", "management_oversight"]  # fmt: skip
    assert darlington(dict(zip(dims, [1, 1, 1, 1, 2, 2, 2, 2], strict=True))) == G  # lower middle
    assert darlington(dict(zip(dims, [2] * 8, strict=True))) == G
    assert darlington(dict(zip(dims, [1, 1, 1, 1, 1, 2, 3, 4], strict=True))) == O
    with pytest.raises(InvalidCommandError, match=r"1 .Outstanding. to 4 .Inadequate., not 5"):
        darlington(dict(zip(dims, [5] * 8, strict=True)))
    with pytest.raises(InvalidCommandError, match="dimensions not graded yet: impact"):
        darlington({d: 1 for d in dims if d != "impact"})


def test_bnes_rates_each_standard_with_evidence_and_an_action_when_not_green() -> None:
    assert check_bnes("3k", "Green", "First review at 9 weeks", None) is Rag.GREEN
    with pytest.raises(InvalidCommandError, match="3k is amber: it needs an action"):
        check_bnes("3k", "amber", "First review at 13 weeks", "")
    with pytest.raises(InvalidCommandError, match="unknown B&NES standard '2l'"):
        check_bnes("2l", "red", "x", "y")
    with pytest.raises(InvalidCommandError, match="needs the evidence"):
        check_bnes("1a", "green", " ", None)
    summary = bnes_summary({"1a": Rag.GREEN, "1g": Rag.RED, "3k": Rag.AMBER})
    assert summary["access"] == {"red": 1, "amber": 0, "green": 1}
    assert summary["plans, reviews and exit"]["amber"] == 1


def test_grades_are_read_from_their_names() -> None:
    assert (
        Grade.parse("RI") is RI
        and Grade.parse("requires improvement") is RI
        and Grade.parse("Outstanding") is O
    )
    with pytest.raises(InvalidCommandError, match="unknown grade 'great'"):
        Grade.parse("great")


def test_the_themes_a_partnership_board_asks_for() -> None:
    from aggregates.schemes import themes

    assert themes("st_helens", {"A12": 0, "R6": 1}, {}) == ["child's voice missing", "reviews late"]
    assert themes("st_helens", {"A12": 2}, {"safeguarding_not_considered": True}) == [
        "safeguarding not considered"
    ]
    assert themes("bnes", {"3k": "amber"}, {}) == ["reviews late"]
    assert themes("darlington", {"voice_of_the_child": 4, "planning": 2}, {}) == [
        "child's voice missing"
    ]
    assert themes("what_makes_good", {"assessment": "Good"}, {}) == []


def test_section_grades_for_reports() -> None:
    st = section_grades("st_helens", {**scores_totalling(27, ASSESSMENT_ITEMS), "closure": "Good"})
    assert st == {"assessment": "Good", "closure": "Good"}  # the review section is not complete
    assert section_grades("darlington", {"impact": 1, "review": 4}) == {
        "impact": "Outstanding",
        "review": "Inadequate",
    }
    assert section_grades("bnes", {"1a": "red"}) == {}


# ---- nothing is silently accepted: unknown keys and flags are refused, naming them ------------

DIMENSIONS = ["pre_eha_activity", "assessment", "planning", "review", "voice_of_the_child",
              "multi_agency_working", "impact", "management_oversight"]  # fmt: skip


@pytest.mark.parametrize("item", ["A21", "R11", "a1"])
def test_st_helens_refuses_an_unknown_item_naming_it_and_the_known_ones(item: str) -> None:
    scores = {**with_review(30, 15), item: 2}
    with pytest.raises(
        InvalidCommandError, match=rf"unknown St Helens item '{item}' \(known: A1-A20, R1-R10"
    ):
        st_helens(scores)


def test_what_makes_good_refuses_a_fifth_section_naming_it_and_the_four() -> None:
    sections = {"assessment": G, "initial_meeting": G, "review_meetings": G, "outcomes": G,
                "planning": O}  # fmt: skip
    with pytest.raises(
        InvalidCommandError,
        match=r"unknown section 'planning' \(known: assessment, initial_meeting, review_meetings, outcomes\)",
    ):
        what_makes_good(sections)


def test_darlington_refuses_an_unknown_dimension_and_names_the_dimension_of_a_bad_grade() -> None:
    graded = dict.fromkeys(DIMENSIONS, 2)
    with pytest.raises(
        InvalidCommandError,
        match=r"unknown dimension 'learning' \(known: pre_eha_activity, .*management_oversight\)",
    ):
        darlington({**graded, "learning": 2})
    with pytest.raises(InvalidCommandError, match=r"^impact: Darlington grades are 1 .* not 5$"):
        darlington({**graded, "impact": 5})


def test_flags_must_be_known_to_the_scheme() -> None:
    assert check_flags("st_helens", {"childs_voice_absent": True}) == {"childs_voice_absent": True}
    with pytest.raises(
        InvalidCommandError,
        match=r"unknown flag 'child_voice_absent' \(known: childs_voice_absent, safeguarding_not_considered\)",
    ):
        check_flags("st_helens", {"child_voice_absent": True})
    with pytest.raises(
        InvalidCommandError,
        match=r"unknown flag 'childs_voice_absent' \(known: none: darlington has no flags\)",
    ):
        check_flags("darlington", {"childs_voice_absent": True})


@pytest.mark.parametrize("value", ["false", "true", 0, 1, None])
def test_flags_are_json_booleans_and_a_string_is_refused_naming_the_flag(value: object) -> None:
    with pytest.raises(
        InvalidCommandError, match=r"flag safeguarding_not_considered must be true or false"
    ):
        check_flags("st_helens", {"safeguarding_not_considered": value})
    assert check_flag("st_helens", "safeguarding_not_considered", False) is False
