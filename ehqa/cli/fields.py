"""A command model's fields as command-line options, read from the model's own JSON schema.

One rule per shape of field, whatever the model:

- a boolean: a flag pair, `--plan-changed/--no-plan-changed`, the model's default when neither;
- a single value (text, a choice, a number, a date): `--reason TEXT`;
- a list of values: one option, comma-separated, `--agencies school,camhs` (spaces around an
  item are dropped; `\\,` is a comma inside an item; an empty value is an empty list);
- a mapping: `KEY=VALUE` pairs, comma-separated, `--outcomes education=true,health=false`;
- a nested model (the lead): one option per field of it, `--lead-name`, `--lead-agency`;
- a list of nested models (the panel's services): the option once per item, each item its
  fields as `FIELD=VALUE` pairs, `--services service=Parenting course,provider=Barnardo's`.

The values are handed to the model as they are (a number as a number): the model checks them,
as it checks a line of the import, and a refusal names the option (`problems`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from ehqa import bounds

FLAG, VALUE, LIST, PAIRS, ITEMS = "flag", "value", "list", "pairs", "items"
METAVARS = {VALUE: "TEXT", LIST: "A,B,...", PAIRS: "KEY=VALUE,...", ITEMS: "FIELD=VALUE,..."}
# The fields that are not options: the import's `cmd` (the subcommand) and the episode (the
# positional REFERENCE).
NOT_OPTIONS = ("cmd", "episode")


class OptionError(ValueError):
    """An option's value that cannot be read as its field's shape (e.g. a pair without `=`)."""


@dataclass(frozen=True)
class Option:
    path: tuple[str, ...]  # ("agencies",), or ("lead", "name") for a nested model's field
    shape: str  # FLAG, VALUE, LIST, PAIRS or ITEMS
    schema: dict[str, Any]  # the field's JSON schema, references resolved
    required: bool

    @property
    def name(self) -> str:
        return "--" + "-".join(self.path).replace("_", "-")

    @property
    def param(self) -> str:
        return "field__" + "__".join(self.path)

    def metavar(self) -> str:
        if self.shape == VALUE and "enum" in self.schema:
            return "CHOICE"
        if self.shape == VALUE and self.schema.get("format") == "date":
            return "YYYY-MM-DD"
        if self.shape == VALUE and self.schema.get("type") == "integer":
            return "N"
        return METAVARS.get(self.shape, "")

    def help(self, defs: dict[str, Any]) -> str:
        """The field's description, then what it takes (from its schema)."""
        schema, said = self.schema, []
        if schema.get("description"):
            said.append(schema["description"].rstrip("."))
        if self.shape == VALUE:
            said.append(kind(schema))
        elif self.shape == LIST:
            items = resolve(schema.get("items", {}), defs)
            said.append(f"comma-separated, {_count(schema, 'Items')}each {kind(items)}")
        elif self.shape == PAIRS:
            keys, values = pair_schemas(schema, defs)
            said.append(f"KEY=VALUE pairs, comma-separated, {_count(schema, 'Properties')}"
                        f"each key {kind(keys)}; each value {kind(values)}")  # fmt: skip
        elif self.shape == ITEMS:
            item = resolve(schema.get("items", {}), defs)
            fields = "; ".join(
                f"{name} ({kind(resolve(sub, defs))})" for name, sub in item["properties"].items()
            )
            said.append(f"the option once per item, {_count(schema, 'Items')}each item"
                        f" FIELD=VALUE pairs, comma-separated: {fields}")  # fmt: skip
        return "".join(f"{part[0].upper()}{part[1:]}. " for part in said if part).rstrip()

    def value(self, raw: Any, defs: dict[str, Any]) -> Any:
        """The option's value (a string, a list of them for ITEMS, a bool for FLAG) as the
        model's input."""
        if self.shape == FLAG:
            return raw
        if self.shape == VALUE:
            return scalar(self.schema, raw)
        if self.shape == LIST:
            items = resolve(self.schema.get("items", {}), defs)
            return [scalar(items, part) for part in split(raw)]
        if self.shape == PAIRS:
            _, values = pair_schemas(self.schema, defs)
            return self._pairs(raw, lambda _: values)
        item = resolve(self.schema.get("items", {}), defs)
        fields = item["properties"]
        return [self._pairs(text, lambda key: resolve(fields.get(key, {}), defs)) for text in raw]

    def _pairs(self, raw: str, schema_of: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for part in split(raw):
            key, equals, value = part.partition("=")
            key = key.strip()
            if not equals:
                raise OptionError(f"option '{self.name}': {part!r} is not KEY=VALUE")
            if key in found:
                raise OptionError(f"option '{self.name}': {key!r} is given twice")
            found[key] = scalar(schema_of(key), value.strip())
        return found


def resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """A field's schema with its `$ref` followed and an optional (`anyOf` with null) unwrapped;
    the field's own keys (description, default) kept."""
    own = {k: v for k, v in schema.items() if k not in ("$ref", "anyOf")}
    if "$ref" in schema:
        return {**resolve(defs[schema["$ref"].rsplit("/", 1)[-1]], defs), **own}
    if "anyOf" in schema:
        kinds = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if len(kinds) == 1:
            return {**resolve(kinds[0], defs), **own}
    return schema


def shape(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    kind_ = schema.get("type")
    if kind_ == "boolean":
        return FLAG
    if kind_ == "array":
        items = resolve(schema.get("items", {}), defs)
        return ITEMS if "properties" in items else LIST
    if kind_ == "object":
        return PAIRS  # (a nested model is flattened before it gets here)
    return VALUE


def options(model: type[BaseModel]) -> tuple[list[Option], dict[str, Any]]:
    """Every option of a model (a nested model's fields one by one) and the schema's `$defs`."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    return list(_options(schema, defs)), defs


def _options(schema: dict[str, Any], defs: dict[str, Any]) -> Iterator[Option]:
    required = set(schema.get("required", ()))
    for name, field in schema["properties"].items():
        if name in NOT_OPTIONS:
            continue
        field = resolve(field, defs)
        if field.get("type") == "object" and "properties" in field:  # a nested model
            inner = set(field.get("required", ()))
            for sub, sub_field in field["properties"].items():
                sub_field = resolve(sub_field, defs)
                found = shape(sub_field, defs)
                if found not in (FLAG, VALUE):
                    raise TypeError(f"{name}.{sub}: a nested model's field must be a value")
                yield Option((name, sub), found, sub_field, name in required and sub in inner)
        else:
            yield Option((name,), shape(field, defs), field, name in required)


def pair_schemas(schema: dict[str, Any], defs: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """A mapping's key and value schemas."""
    patterns = schema.get("patternProperties", {})
    keys = resolve(schema.get("propertyNames", {}), defs)
    if patterns:
        (pattern, values), *_ = patterns.items()
        keys = {**keys, "pattern": pattern}
    else:
        values = schema.get("additionalProperties", {})
    return keys, resolve(values, defs)


def kind(schema: dict[str, Any]) -> str:
    """What a value of this schema is, in words."""
    if "enum" in schema:
        return "one of " + ", ".join(str(value) for value in schema["enum"])
    if schema.get("format") == "date":
        return "a date, YYYY-MM-DD"
    if schema.get("type") == "integer":
        return "a whole number"
    if schema.get("type") == "boolean":
        return "true or false"
    return bounds.describe(schema) or "text"


def _count(schema: dict[str, Any], what: str) -> str:
    low, high = schema.get(f"min{what}"), schema.get(f"max{what}")
    if low and high:
        return f"{low}-{high} of them, "
    return f"at most {high} of them, " if high else ""


def scalar(schema: dict[str, Any], raw: str) -> Any:
    """A value as the JSON import would give it: a number for an integer field, else the text
    (the model reads a date, a choice or true/false from text itself)."""
    if schema.get("type") == "integer" and re.fullmatch(r"[+-]?[0-9]{1,18}", raw.strip()):
        return int(raw)
    return raw


def split(raw: str) -> list[str]:
    """Comma-separated items, `\\,` a comma inside an item, spaces around an item dropped."""
    if not raw.strip():
        return []
    return [part.replace("\\,", ",").strip() for part in re.split(r"(?<!\\),", raw)]


def problems(error: ValidationError, found: list[Option], argument: str) -> str:
    """The model's refusal, each problem naming the option (or the positional argument) at
    fault: `option '--agencies' (item 2): must not be empty`."""
    by_path: dict[tuple[Any, ...], Option] = {option.path: option for option in found}
    said = []
    for problem in error.errors():
        loc = tuple(problem["loc"])
        if loc[:2] in by_path:
            where, rest = f"option '{by_path[loc[:2]].name}'", loc[2:]
        elif loc[:1] in by_path:
            where, rest = f"option '{by_path[loc[:1]].name}'", loc[1:]
        elif loc[:1] == ("episode",):
            where, rest = f"argument '{argument}'", loc[1:]
        else:
            where, rest = "the command", loc
        detail = ", ".join(_part(part) for part in rest if part != "[key]")
        said.append(f"{where}{f' ({detail})' if detail else ''}: {problem['msg']}")
    return "; ".join(said)


def _part(part: Any) -> str:
    return f"item {part + 1}" if isinstance(part, int) else repr(part)
