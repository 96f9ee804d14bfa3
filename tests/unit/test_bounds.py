"""ehqa.bounds: the character policy and the limits every edge shares."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from ehqa import bounds
from ehqa.bounds import Code, FreeText, Name, OutOfBounds, PathReference, Reference, check
from ehqa.commands import LineError, parse_line

CONTROLS = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\x9f"]


class Body(BaseModel):
    reference: Reference
    path_reference: PathReference
    code: Code
    name: Name
    text: FreeText


VALID = {"reference": "EH-0001", "path_reference": "AU-1", "code": "st-helens",
         "name": "Jo Bright", "text": "Parent in hospital"}  # fmt: skip


@pytest.mark.parametrize(
    "value",
    ["EH-1", "EH-0001", "SIM-1-000001", "DEMO-C1", "C-EH-C", "a.b_c-d", "LCS/123", "X" * 64],
)
def test_the_references_in_use_are_references(value: str) -> None:
    assert check("reference", value, "field 'episode'") == value


@pytest.mark.parametrize("value", ["", "-EH", "EH 1", "EH\x001", "EH-1\n", "X" * 65, "é", "/x"])
def test_other_references_are_refused_naming_the_field(value: str) -> None:
    with pytest.raises(OutOfBounds, match=r"^field 'episode': "):
        check("reference", value, "field 'episode'")


def test_a_path_reference_has_no_slash() -> None:
    with pytest.raises(OutOfBounds, match=r"letters, digits, '\.', '_' and '-'"):
        check("path_reference", "EH/1", "field 'episode'")


@pytest.mark.parametrize("value", ["st-helens", "bnes", "darlington", "Wigan_2"])
def test_policy_names_are_codes(value: str) -> None:
    assert check("code", value, "field 'policy'") == value


@pytest.mark.parametrize("char", CONTROLS)
@pytest.mark.parametrize("kind", ["name", "text", "required_text", "reference", "code"])
def test_every_control_character_is_refused_with_its_code_point_and_position(
    kind: str, char: str
) -> None:
    with pytest.raises(OutOfBounds) as refused:
        check(kind, "a" + char + "b", "field 'reason'")
    assert str(refused.value).startswith(
        f"field 'reason': contains a control character (U+{ord(char):04X}) at position 1; "
    )


def test_the_message_says_what_free_text_allows() -> None:
    with pytest.raises(OutOfBounds) as refused:
        check("text", "a\x00b", "field 'reason'")
    assert str(refused.value) == (
        "field 'reason': contains a control character (U+0000) at position 1;"
        " only newline and tab are allowed"
    )


def test_free_text_keeps_newline_tab_and_any_printable_character() -> None:
    text = "Line one\n\tLine two: café, 北京, emoji 🙂, right-to-left \u200f\u05e9\u05dc\u05d5\u05dd, \u2028"
    assert check("text", text, "field 'summary'") == text


@pytest.mark.parametrize("char", ["\n", "\t", "\r"])
def test_a_name_holds_no_line_break_or_tab(char: str) -> None:
    with pytest.raises(OutOfBounds, match="none is allowed"):
        check("name", f"Jo{char}Bright", "field 'lead.name'")


def test_a_carriage_return_is_refused_in_free_text() -> None:
    with pytest.raises(OutOfBounds, match=r"U\+000D"):
        check("text", "a\r\nb", "field 'notes'")


@pytest.mark.parametrize("kind", ["name", "text", "reference"])
def test_an_unpaired_surrogate_is_refused(kind: str) -> None:
    with pytest.raises(OutOfBounds, match=r"unpaired surrogate \(U\+D800\) at position 2"):
        check(kind, "ab\ud800", "field 'x'")


@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        ("reference", bounds.REFERENCE_MAX),
        ("code", bounds.CODE_MAX),
        ("name", bounds.NAME_MAX),
        ("text", bounds.TEXT_MAX),
    ],
)
def test_lengths_are_bounded_and_the_bound_is_named(kind: str, limit: int) -> None:
    assert check(kind, "a" * limit, "field 'x'")
    with pytest.raises(OutOfBounds, match=f"at most {limit:,} are allowed"):
        check(kind, "a" * (limit + 1), "field 'x'")


def test_a_10_mb_name_is_refused_quickly() -> None:
    with pytest.raises(OutOfBounds, match="is 10,000,000 characters long"):
        check("name", "a" * 10_000_000, "field 'lead.name'")


def test_the_types_work_in_models_and_publish_their_rules() -> None:
    assert Body(**VALID).name == "Jo Bright"
    with pytest.raises(ValidationError) as refused:
        Body(**{**VALID, "text": "a\x00b"})
    assert refused.value.errors()[0]["loc"] == ("text",)
    schema = Body.model_json_schema()["properties"]
    assert schema["reference"]["pattern"] == bounds.REFERENCE_PATTERN
    assert schema["name"]["maxLength"] == bounds.NAME_MAX
    assert schema["text"]["maxLength"] == bounds.TEXT_MAX


def test_documents_are_checked_string_by_string_keys_included() -> None:
    bounds.check_document({"clocks": {"fam": {"label": "ok\nfine"}}}, "policy file p.toml")
    with pytest.raises(OutOfBounds, match=r"field 'clocks.fam.label': contains a control"):
        bounds.check_document({"clocks": {"fam": {"label": "x\x00"}}}, "policy file p.toml")
    with pytest.raises(OutOfBounds, match=r"field 'managers.a\x01': contains a control"):
        bounds.check_document({"managers": {"a\x01": "b"}}, "staff list")


def test_the_import_names_the_field_and_the_rule() -> None:
    line = '{"cmd":"record_exception","episode":"EH-1","on":"2025-09-01","clock":"assessment","reason":"a\\u0000b"}'
    with pytest.raises(LineError) as refused:
        parse_line(line)
    assert str(refused.value) == (
        "field 'reason': contains a control character (U+0000) at position 1;"
        " only newline and tab are allowed"
    )


def test_the_import_refuses_deep_nesting_and_bytes_that_are_not_utf8() -> None:
    with pytest.raises(LineError, match="nested too deeply"):
        parse_line("[" * 100_000)
    with pytest.raises(LineError, match=r"not valid UTF-8 \(byte 0xFF at column 3\)"):
        parse_line('{"\udcff": 1}')


@pytest.mark.parametrize("kind", ["name", "required_text", "subject"])
def test_a_blank_name_or_required_text_is_refused_but_free_text_may_be_blank(kind: str) -> None:
    for blank in (" ", "\u00a0", "  \u2003 "):
        with pytest.raises(OutOfBounds, match=r"^field 'x': must not be blank"):
            check(kind, blank, "field 'x'")
    assert check(kind, " Jo ", "field 'x'") == " Jo "
    assert check("text", "   ", "field 'x'") == "   "
