"""The four quality-assurance schemes councils grade Early Help records by, as data plus the
least code: St Helens' scored audit, the sectional "What makes good?" rule, Darlington's eight
dimensions, and B&NES' red/amber/green standards. Item texts are ehqa's own summaries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from aggregates.errors import InvalidCommandError


class Grade(IntEnum):
    """Ordered so that a larger value is a better grade."""

    INADEQUATE = 1
    REQUIRES_IMPROVEMENT = 2
    GOOD = 3
    OUTSTANDING = 4

    @property
    def label(self) -> str:
        return {1: "Inadequate", 2: "Requires Improvement", 3: "Good", 4: "Outstanding"}[self.value]

    @classmethod
    def parse(cls, text: str) -> Grade:
        key = text.strip().lower().replace("_", " ")
        for grade in cls:
            if key in (grade.label.lower(), grade.name.lower().replace("_", " ")) or (
                key == "ri" and grade == cls.REQUIRES_IMPROVEMENT
            ):
                return grade
        raise InvalidCommandError(
            f"unknown grade '{text}' (Outstanding, Good, Requires Improvement, Inadequate)"
        )


class SchemeName(StrEnum):
    ST_HELENS = "st_helens"
    WHAT_MAKES_GOOD = "what_makes_good"
    DARLINGTON = "darlington"
    BNES = "bnes"


def unknown(
    given: Iterable[str], known: Collection[str], what: str, listing: str | None = None
) -> None:
    """Refuse the first key that is not one of `known`, naming it and listing the known ones."""
    for key in given:
        if key not in known:
            raise InvalidCommandError(
                f"unknown {what} '{key}' (known: {listing or ', '.join(known)})"
            )


# ---- St Helens: scored items A1-A20 and R1-R10 --------------------------------------------------

NOT_MET, PARTIALLY_MET, MET, EXCEEDED = 0, 1, 2, 3
FULL = (NOT_MET, PARTIALLY_MET, MET, EXCEEDED)
NO_EXCEEDED = (NOT_MET, PARTIALLY_MET, MET)
MET_OR_NOT = (NOT_MET, MET)
NOT_APPLICABLE = "n/a"  # an item that does not apply to the episode: unscored


@dataclass(frozen=True)
class Item:
    code: str
    text: str
    scores: tuple[int, ...] = FULL
    may_not_apply: bool = False  # may be scored NOT_APPLICABLE


ASSESSMENT_ITEMS = [
    Item("A1", "Assessment finalised within timescale (20 working days of consent)"),
    Item("A2", "Family relationships recorded", NO_EXCEEDED),
    Item("A3", "Key agencies recorded", NO_EXCEEDED),
    Item("A4", "Chronology relevant and current"),
    Item("A5", "Genogram reflects the family", NO_EXCEEDED),
    Item("A6", "Plain, jargon-free and concise", NO_EXCEEDED),
    Item("A7", "Fact and professional judgement told apart"),
    Item("A8", "Other agencies contacted for information", NO_EXCEEDED),
    Item("A9", "Holistic: needs, strengths, protective factors"),
    Item("A10", "Families First nomination completed", MET_OR_NOT),
    Item("A11", "Impact of identity and diversity considered"),
    Item("A12", "Child involved; child's voice recorded"),
    Item("A13", "Parents and carers involved"),
    Item("A14", "Child's development and attachments considered"),
    Item("A15", "Parenting capacity identified with examples"),
    Item("A16", "Wider family and environment considered"),
    Item("A17", "Safeguarding risks identified and managed"),
    Item("A18", "Outcome and next steps clear, with timescales"),
    Item("A19", "Case notes kept up to date after the assessment"),
    Item("A20", "Management oversight evident", MET_OR_NOT),
]
REVIEW_ITEMS = [
    Item("R1", "Family details, attendees and minutes recorded", NO_EXCEEDED),
    Item("R2", "New needs and strengths inform next steps"),
    Item("R3", "Parents and carers attend; their views recorded"),
    Item("R4", "Child attends where appropriate; child's voice recorded"),
    Item("R5", "Plan is SMART and solution focused"),
    Item("R6", "Reviews held within timescales, or the reason recorded"),
    Item("R7", "Risks recognised and responded to"),
    Item("R8", "Meetings held and existing actions reviewed", may_not_apply=True),
    Item("R9", "Difficulties engaging services addressed", NO_EXCEEDED),
    Item("R10", "Relevant agencies have access and record", NO_EXCEEDED),
]
ITEMS = {item.code: item for item in (*ASSESSMENT_ITEMS, *REVIEW_ITEMS)}

# Score bands: the lowest total of each grade.
ASSESSMENT_BANDS = (
    (41, Grade.OUTSTANDING),
    (27, Grade.GOOD),
    (14, Grade.REQUIRES_IMPROVEMENT),
    (0, Grade.INADEQUATE),
)
REVIEW_BANDS = (
    (23, Grade.OUTSTANDING),
    (15, Grade.GOOD),
    (8, Grade.REQUIRES_IMPROVEMENT),
    (0, Grade.INADEQUATE),
)


def as_number(item: str, value: object) -> int:
    """A score given as a whole number (or its digits), or a clear refusal naming the item."""
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit())
    ):
        raise InvalidCommandError(f"{item}: {value!r} is not a whole-number score")
    return int(value)


ST_HELENS_KNOWN = "A1-A20, R1-R10, closure"


def check_score(code: str, score: int) -> None:
    item = ITEMS.get(code)
    if item is None:
        raise InvalidCommandError(f"unknown St Helens item '{code}' (known: {ST_HELENS_KNOWN})")
    if score not in item.scores:
        names = {0: "0 not met", 1: "1 partially met", 2: "2 met", 3: "3 exceeded"}
        allowed = ", ".join(names[s] for s in item.scores)
        raise InvalidCommandError(f"{code} is scored {allowed}; {score} is not one of them")


def st_helens_value(code: str, value: object) -> int | str:
    """A St Helens item's score as a whole number it allows, or NOT_APPLICABLE ("n/a") for an
    item that may not apply (R8, for a single-agency plan)."""
    if isinstance(value, str) and value.strip().lower() in (NOT_APPLICABLE, "not applicable"):
        if code in ITEMS and not ITEMS[code].may_not_apply:
            may = ", ".join(item.code for item in ITEMS.values() if item.may_not_apply)
            raise InvalidCommandError(f"{code} always applies (only {may} may be n/a)")
        if code in ITEMS:
            return NOT_APPLICABLE
    number = as_number(code, value)
    check_score(code, number)
    return number


def band(total: int, bands: Sequence[tuple[int, Grade]]) -> Grade:
    return next(grade for lowest, grade in bands if total >= lowest)


def _banded(scores: Mapping[str, object], items: Sequence[Item],
            bands: Sequence[tuple[int, Grade]]) -> Grade:  # fmt: skip
    """The band of a complete section's total. Items scored n/a are unscored: the total of the
    items that apply is set against the bands scaled to what those items can score."""
    values = {item.code: st_helens_value(item.code, scores[item.code]) for item in items}
    applying = [item for item in items if values[item.code] != NOT_APPLICABLE]
    total = sum(int(values[item.code]) for item in applying)
    most = sum(max(item.scores) for item in items)
    most_applying = sum(max(item.scores) for item in applying)
    return next(grade for lowest, grade in bands if total * most >= lowest * most_applying)


def section_grade(
    scores: Mapping[str, int | str], items: Sequence[Item], bands: Sequence[tuple[int, Grade]]
) -> Grade:
    missing = [item.code for item in items if item.code not in scores]
    if missing:
        raise InvalidCommandError(f"items not scored yet: {', '.join(missing)}")
    return _banded(scores, items, bands)


@dataclass(frozen=True)
class StHelensResult:
    assessment: Grade | None
    review: Grade | None
    closure: Grade | None
    overall: Grade
    reasons: tuple[str, ...]


def st_helens(
    scores: Mapping[str, int | str],
    *,
    closure: Grade | None = None,
    assessment_audited: bool = True,
    review_audited: bool = True,
    childs_voice_absent: bool = False,
    safeguarding_not_considered: bool = False,
) -> StHelensResult:
    """Section grades from the score bands, the overall grade by majority (the review section
    decides between two that differ), then the two overrides. An unknown item is refused."""
    unknown(scores, ITEMS, "St Helens item", ST_HELENS_KNOWN)
    assessment = (
        section_grade(scores, ASSESSMENT_ITEMS, ASSESSMENT_BANDS) if assessment_audited else None
    )
    review = section_grade(scores, REVIEW_ITEMS, REVIEW_BANDS) if review_audited else None
    graded = [g for g in (assessment, review, closure) if g is not None]
    if not graded:
        raise InvalidCommandError("no section is graded")
    reasons = []
    counts = Counter(graded).most_common()
    if len(counts) == 1 or counts[0][1] > counts[1][1]:
        overall = counts[0][0]
    else:  # no majority: the review section weighs more
        overall = review if review is not None else min(graded)
        reasons.append("no majority among the sections: the review section's grade decides")
    if childs_voice_absent and overall > Grade.REQUIRES_IMPROVEMENT:
        overall = Grade.REQUIRES_IMPROVEMENT
        reasons.append("the child's voice is absent: at most Requires Improvement")
    if safeguarding_not_considered:
        overall = Grade.INADEQUATE
        reasons.append("safeguarding concerns were not taken into account: Inadequate")
    return StHelensResult(assessment, review, closure, overall, tuple(reasons))


# ---- flags: St Helens' two overrides -------------------------------------------------------------

FLAGS: dict[SchemeName, tuple[str, ...]] = {
    SchemeName.ST_HELENS: ("childs_voice_absent", "safeguarding_not_considered"),
}


def check_flag(scheme: str, name: str, value: object) -> bool:
    """A flag the scheme knows, set to true or false (a JSON boolean: the text "false" is refused,
    not read as true)."""
    known = FLAGS.get(SchemeName(scheme), ())
    if name not in known:
        listing = ", ".join(known) or f"none: {scheme} has no flags"
        raise InvalidCommandError(f"unknown flag '{name}' (known: {listing})")
    if not isinstance(value, bool):
        raise InvalidCommandError(
            f"flag {name} must be true or false (a JSON boolean), not {value!r}"
        )
    return value


def check_flags(scheme: str, flags: Mapping[str, object]) -> dict[str, bool]:
    return {name: check_flag(scheme, name, value) for name, value in flags.items()}


# ---- "What makes good?": four sections and the 3-of-4 rule --------------------------------------

WHAT_MAKES_GOOD_SECTIONS = ("assessment", "initial_meeting", "review_meetings", "outcomes")


@dataclass(frozen=True)
class SectionalResult:
    proposed: Grade
    needs_moderation: bool
    options: tuple[Grade, ...]
    reason: str


def what_makes_good(sections: Mapping[str, Grade]) -> SectionalResult:
    """A grade needs three or more sections at (or above) it; Outstanding also needs the fourth
    at least Good. Where the remaining section is RI or Inadequate, the grade is moderated:
    Good or Requires Improvement by the auditor's judgement. An unknown section is refused."""
    unknown(sections, WHAT_MAKES_GOOD_SECTIONS, "section")
    missing = [name for name in WHAT_MAKES_GOOD_SECTIONS if name not in sections]
    if missing:
        raise InvalidCommandError(f"sections not graded yet: {', '.join(missing)}")
    grades = [sections[name] for name in WHAT_MAKES_GOOD_SECTIONS]
    weakest = min(grades)
    for grade in (Grade.OUTSTANDING, Grade.GOOD, Grade.REQUIRES_IMPROVEMENT):
        if sum(g >= grade for g in grades) < 3:
            continue
        if grade >= Grade.GOOD and weakest <= Grade.REQUIRES_IMPROVEMENT:
            proposed = Grade.GOOD if grade == Grade.OUTSTANDING else Grade.REQUIRES_IMPROVEMENT
            return SectionalResult(
                proposed, True, (Grade.GOOD, Grade.REQUIRES_IMPROVEMENT),
                f"three sections are {grade.label} or better but one is {weakest.label}: moderate",
            )  # fmt: skip
        if grade == Grade.OUTSTANDING and weakest < Grade.GOOD:
            continue
        return SectionalResult(
            grade, False, (grade,), f"three or more sections are {grade.label} or better"
        )
    return SectionalResult(
        Grade.INADEQUATE,
        False,
        (Grade.INADEQUATE,),
        "fewer than three sections reach Requires Improvement",
    )


# ---- Darlington: eight dimensions graded 1 (Outstanding) to 4 (Inadequate) -----------------------

DARLINGTON_DIMENSIONS = (
    "pre_eha_activity", "assessment", "planning", "review", "voice_of_the_child",
    "multi_agency_working", "impact", "management_oversight",
)  # fmt: skip


def darlington_grade(number: int, dimension: str | None = None) -> Grade:
    if number not in (1, 2, 3, 4):
        named = f"{dimension}: " if dimension else ""
        raise InvalidCommandError(
            f"{named}Darlington grades are 1 (Outstanding) to 4 (Inadequate), not {number}"
        )
    return Grade(5 - number)


def darlington(dimensions: Mapping[str, int]) -> Grade:
    """The overall grade the dimensions point to: their median, the lower of two middles. An
    unknown dimension is refused."""
    unknown(dimensions, DARLINGTON_DIMENSIONS, "dimension")
    missing = [d for d in DARLINGTON_DIMENSIONS if d not in dimensions]
    if missing:
        raise InvalidCommandError(f"dimensions not graded yet: {', '.join(missing)}")
    grades = sorted(darlington_grade(dimensions[d], d) for d in DARLINGTON_DIMENSIONS)
    return grades[(len(grades) - 1) // 2]


# ---- B&NES: standards rated Red / Amber / Green ------------------------------------------------


class Rag(StrEnum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"


BNES_STANDARDS = {
    **{f"1{c}": "access" for c in "abcdefg"},
    **{f"2{c}": "assessment" for c in "abcdefghijk"},
    **{f"3{c}": "plans, reviews and exit" for c in "abcdefghijklmn"},
}


def check_bnes(standard: str, rating: str, evidence: str, action: str | None) -> Rag:
    if standard not in BNES_STANDARDS:
        raise InvalidCommandError(
            f"unknown B&NES standard '{standard}' (known: 1a-1g, 2a-2k, 3a-3n)"
        )
    try:
        rag = Rag(rating.lower())
    except ValueError:
        raise InvalidCommandError(
            f"{standard} is rated red, amber or green, not '{rating}'"
        ) from None
    if not evidence.strip():
        raise InvalidCommandError(f"{standard} needs the evidence for its rating")
    if rag is not Rag.GREEN and not (action or "").strip():
        raise InvalidCommandError(f"{standard} is {rag.value}: it needs an action")
    return rag


def bnes_summary(ratings: Mapping[str, Rag]) -> dict[str, dict[str, int]]:
    """Counts of red, amber and green per area."""
    summary: dict[str, dict[str, int]] = {}
    for standard, rag in ratings.items():
        area = summary.setdefault(BNES_STANDARDS[standard], {r.value: 0 for r in Rag})
        area[rag.value] += 1
    return summary


# ---- themes a partnership board asks about ------------------------------------------------------

THEMES: dict[str, dict[str, tuple[str, ...]]] = {
    # theme: {scheme: item=value conditions that show it}
    "child's voice missing": {
        "st_helens": ("A12=0", "R4=0", "flag:childs_voice_absent"),
        "darlington": ("voice_of_the_child=4",), "bnes": ("2f=red",),
    },
    "reviews late": {"st_helens": ("R6=0", "R6=1"), "darlington": ("review=4",), "bnes": ("3k=red", "3k=amber")},
    "safeguarding not considered": {
        "st_helens": ("A17=0", "R7=0", "flag:safeguarding_not_considered"), "bnes": ("2i=red",),
    },
    "plan not SMART": {"st_helens": ("R5=0",), "darlington": ("planning=4",), "bnes": ("3a=red",)},
    "no management oversight": {"st_helens": ("A20=0",), "darlington": ("management_oversight=4",)},
}  # fmt: skip


def themes(scheme: str, scores: Mapping[str, object], flags: Mapping[str, bool]) -> list[str]:
    """The board's themes an audit shows, from its scores and flags."""
    found = []
    for theme, by_scheme in THEMES.items():
        for condition in by_scheme.get(scheme, ()):
            if condition.startswith("flag:"):
                hit = flags.get(condition[5:], False)
            else:
                item, value = condition.split("=")
                hit = str(scores.get(item, "")).lower() == value
            if hit:
                found.append(theme)
                break
    return found


def section_grades(scheme: str, scores: Mapping[str, object]) -> dict[str, str]:
    """The grade of each section (or dimension) an audit's scores give, where it is complete."""
    if scheme == SchemeName.ST_HELENS:
        found = {}
        for name, items, bands in (
            ("assessment", ASSESSMENT_ITEMS, ASSESSMENT_BANDS),
            ("review", REVIEW_ITEMS, REVIEW_BANDS),
        ):
            if all(item.code in scores for item in items):
                found[name] = _banded(scores, items, bands).label
        if "closure" in scores:
            found["closure"] = str(scores["closure"])
        return found
    if scheme == SchemeName.WHAT_MAKES_GOOD:
        return {k: str(v) for k, v in scores.items() if k in WHAT_MAKES_GOOD_SECTIONS}
    if scheme == SchemeName.DARLINGTON:
        return {
            k: darlington_grade(int(str(v))).label
            for k, v in scores.items()
            if k in DARLINGTON_DIMENSIONS
        }
    return {}
