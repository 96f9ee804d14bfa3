"""Every string any command takes is bounded: a command added later cannot slip past the
character policy and the length limits (the import format and the HTTP bodies share the models)."""

from __future__ import annotations

from typing import Any

from ehqa.commands import COMMAND


def unbounded_strings(schema: Any, defs: dict[str, Any], where: str = "") -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            return unbounded_strings(defs[name], defs, f"{where}({name})")
        free = "enum" not in schema and "const" not in schema and "format" not in schema
        if schema.get("type") == "string" and free and "maxLength" not in schema:
            found.append(where or "(root)")
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for name, inner in value.items():
                    found += unbounded_strings(inner, defs, f"{where}.{name}")
            elif key in ("items", "additionalProperties", "propertyNames"):
                found += unbounded_strings(value, defs, f"{where}[{key}]")
            elif key in ("anyOf", "oneOf", "allOf"):
                for inner in value:
                    found += unbounded_strings(inner, defs, where)
    return found


def test_every_string_of_every_command_has_a_length_limit_and_a_character_rule() -> None:
    schema = COMMAND.json_schema()
    defs = schema.get("$defs", {})
    unbounded = [
        f"{name}{path}"
        for name, ref in schema["discriminator"]["mapping"].items()
        for path in unbounded_strings(defs[ref.rsplit("/", 1)[-1]], defs)
    ]
    assert not unbounded, unbounded
    assert len(schema["discriminator"]["mapping"]) >= 20  # the walk saw the commands
