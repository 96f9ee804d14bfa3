"""The one place that decides which characters and how many of them every edge accepts.

The same types check the JSON Lines import (ehqa.commands), the HTTP bodies (ehqa.api), the
command-line options (ehqa.cli, through `check_option`), policy files and the staff list.

- `Reference` (episodes, children): 1-64 characters from `A-Z a-z 0-9 . _ - /`, starting with a
  letter or digit. `PathReference` (episodes opened over HTTP, audits) is the same without `/`,
  so that it is one segment of a URL path.
- `Code` (policy names): 1-64 characters from `A-Z a-z 0-9 . _ -`, starting with a letter or
  digit (the presets are `st-helens`, `bnes`, `darlington`).
- `Name` (people, agencies, an alert's recipient): 1-200 characters, no control character at all
  (not even newline or tab), not blank (only white space). `Subject` (a person's sign-in identity: `token:...`, an OIDC
  issuer#sub): the same, up to 300 characters.
- `FreeText` (reasons, summaries, notes, evidence, actions): at most 10,000 characters; newline
  and tab are the only control characters allowed. `RequiredText` is FreeText that must be
  neither empty nor blank.

A control character is any of Unicode category Cc: U+0000-U+001F, U+007F and U+0080-U+009F (so
U+0085, NEXT LINE, is one: a newline is U+000A). An unpaired surrogate (U+D800-U+DFFF, which a
JSON `\\ud800` escape can produce) is not a character at all and is refused everywhere; PostgreSQL
text can hold neither NUL nor a surrogate. Positions in the messages count from 0.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Final

from pydantic import AfterValidator, TypeAdapter, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

REFERENCE_MAX: Final = 64
CODE_MAX: Final = 64
NAME_MAX: Final = 200
TEXT_MAX: Final = 10_000
SUBJECT_MAX: Final = 300

REFERENCE_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"
PATH_REFERENCE_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
CODE_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"

_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_NEWLINE_AND_TAB: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# JSON schema patterns (what a client can check for itself); surrogates cannot be written there
_NO_CONTROL_SCHEMA: Final = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
_TEXT_SCHEMA: Final = "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$"


def bad_character(value: str, newline_and_tab: bool = False) -> str | None:
    """Why `value` holds a character no field accepts (None when it holds none)."""
    found = (_CONTROL_BUT_NEWLINE_AND_TAB if newline_and_tab else _CONTROL).search(value)
    if found is None:
        return None
    char, at = found.group(), found.start()
    if "\ud800" <= char <= "\udfff":
        return f"contains an unpaired surrogate (U+{ord(char):04X}) at position {at}"
    allowed = "only newline and tab are allowed" if newline_and_tab else "none is allowed"
    return f"contains a control character (U+{ord(char):04X}) at position {at}; {allowed}"


def _length(value: str, minimum: int, maximum: int) -> None:
    if len(value) < minimum:
        raise PydanticCustomError("too_short", "must not be empty")
    if len(value) > maximum:
        raise PydanticCustomError(
            "too_long", f"is {len(value):,} characters long; at most {maximum:,} are allowed"
        )


def _pattern(kind: str, pattern: str, maximum: int, alphabet: str) -> Any:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        _length(value, 1, maximum)
        why = bad_character(value)
        if why is None and compiled.match(value) is None:
            why = f"is not a valid {kind}: {alphabet}, starting with a letter or digit"
        if why is not None:
            raise PydanticCustomError(f"bad_{kind}", why)
        return value

    schema = {"type": "string", "minLength": 1, "maxLength": maximum, "pattern": pattern}
    return Annotated[str, AfterValidator(check), WithJsonSchema(schema)]


def _text(minimum: int, maximum: int, newline_and_tab: bool) -> Any:
    def check(value: str) -> str:
        _length(value, minimum, maximum)
        if minimum and value.isspace():
            raise PydanticCustomError("blank", "must not be blank (it holds only white space)")
        why = bad_character(value, newline_and_tab)
        if why is not None:
            raise PydanticCustomError("control_character", why)
        return value

    pattern = _TEXT_SCHEMA if newline_and_tab else _NO_CONTROL_SCHEMA
    schema = {"type": "string", "minLength": minimum, "maxLength": maximum, "pattern": pattern}
    return Annotated[str, AfterValidator(check), WithJsonSchema(schema)]


Reference = _pattern("reference", REFERENCE_PATTERN, REFERENCE_MAX,
                     "letters, digits, '.', '_', '-' and '/'")  # fmt: skip
PathReference = _pattern("reference", PATH_REFERENCE_PATTERN, REFERENCE_MAX,
                         "letters, digits, '.', '_' and '-'")  # fmt: skip
Code = _pattern("code", CODE_PATTERN, CODE_MAX, "letters, digits, '.', '_' and '-'")
Name = _text(1, NAME_MAX, newline_and_tab=False)
FreeText = _text(0, TEXT_MAX, newline_and_tab=True)
RequiredText = _text(1, TEXT_MAX, newline_and_tab=True)  # FreeText that must not be empty
Subject = _text(1, SUBJECT_MAX, newline_and_tab=False)  # a person's stable sign-in identity

KINDS: Final[dict[str, Any]] = {
    "reference": Reference, "path_reference": PathReference, "code": Code, "name": Name,
    "text": FreeText, "required_text": RequiredText, "subject": Subject,
}  # fmt: skip


@cache
def _adapter(kind: str) -> TypeAdapter[str]:
    """Each kind's validator, built when first used (a command checks one or two kinds)."""
    return TypeAdapter(KINDS[kind])


# What each string schema above accepts, in words (for help texts generated from a schema).
_WORDS: Final = {
    REFERENCE_PATTERN: "letters, digits, '.', '_', '-' and '/', starting with a letter or digit",
    CODE_PATTERN: "letters, digits, '.', '_' and '-', starting with a letter or digit",
    _NO_CONTROL_SCHEMA: "no control character",
    _TEXT_SCHEMA: "no control character but newline and tab",
}


def describe(schema: dict[str, Any]) -> str | None:
    """The bounds of a string's JSON schema made here, in words ("1-200 characters, no control
    character"); None for any other schema."""
    words = _WORDS.get(schema.get("pattern", ""))
    if words is None or "maxLength" not in schema:
        return None
    low, high = schema.get("minLength", 0), schema["maxLength"]
    size = f"up to {high:,}" if low == 0 else f"{low}-{high:,}"
    return f"{size} characters, {words}"


class OutOfBounds(ValueError):
    """A value outside its bounds; the message names the field and the rule."""


def check(kind: str, value: str, field: str) -> str:
    """`value` if it is within the bounds of `kind` (a key of KINDS), else OutOfBounds naming
    `field` (e.g. "field 'reason'" or "option '--note'")."""
    try:
        return _adapter(kind).validate_python(value)
    except ValidationError as error:
        raise OutOfBounds(f"{field}: {error.errors()[0]['msg']}") from None


def strings(value: Any, where: str = "") -> list[tuple[str, str]]:
    """Every string in a parsed document (keys too) with where it is, e.g. `clocks.fam.label`."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[str, Any]] = [(where, value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, str):
            found.append((at or "(document)", item))
        elif isinstance(item, dict):
            for key, inner in item.items():
                path = f"{at}.{key}" if at else str(key)
                found.append((path, str(key)))
                stack.append((path, inner))
        elif isinstance(item, list | tuple):
            stack.extend((f"{at}[{n}]", inner) for n, inner in enumerate(item))
    return found


def check_document(document: Any, what: str, maximum: int = TEXT_MAX) -> None:
    """Refuse a policy or staff document holding a control character (newline and tab aside) or
    a string longer than `maximum`, naming where it is."""
    for where, text in strings(document):
        why = bad_character(text, newline_and_tab=True)
        if why is None and len(text) > maximum:
            why = f"is {len(text):,} characters long; at most {maximum:,} are allowed"
        if why is not None:
            raise OutOfBounds(f"{what}: field '{where}': {why}")
