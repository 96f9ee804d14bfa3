"""The forms of the episode page: one per next step the lifecycle allows now, each made from the
step's command model (ehqa.commands), read through its JSON schema as `ehqa record` reads it.

One rule per shape of field, whatever the model:

- a boolean: a checkbox;
- a choice (an enum, or a literal of numbers): a select list of its values;
- a date: a date input; a number: a number input;
- text: a text input, or a text area when it may be long;
- a list of choices: a group of checkboxes; a list of text: one input, comma-separated;
- a mapping whose keys are choices (the outcomes): a select per key (yes, no, or left out);
  any other mapping: `KEY=VALUE` pairs, comma-separated;
- a nested model (the lead): one input per field of it (`lead.name`, `lead.agency`, ...);
- a list of nested models (the panel's services): a text area, one item a line, each item its
  fields as `FIELD=VALUE` pairs.

What the form sends is handed to the model as the import would read it (`data`), so the model
checks it and a refusal names the field by its label (`problems`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from aggregates.lifecycle import State, may
from ehqa.commands import MODELS, _Command

SKIP = ("cmd", "episode")
LONG = 500  # text that may be longer than this gets a text area
# A step's lifecycle trigger, where it is not the command's own name.
TRIGGERS = {"record_mash_outcome": "mash_keeps_at_level_2"}


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]
    kind: str  # checkbox select date number text textarea list checkboxes choices pairs lines
    label: str
    required: bool
    hint: str = ""
    choices: tuple[str, ...] = ()
    default: Any = None

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Step:
    cmd: str
    title: str
    hint: str
    fields: list[Field] = field(default_factory=list)


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    own = {k: v for k, v in schema.items() if k not in ("$ref", "anyOf")}
    if "$ref" in schema:
        return {**_resolve(defs[schema["$ref"].split("/")[-1]], defs), **own}
    options = [s for s in schema.get("anyOf", []) if s.get("type") != "null"]
    return {**_resolve(options[0], defs), **own} if options else own


def _label(name: str) -> str:
    words = name.rstrip("_").replace("_", " ")
    return words[0].upper() + words[1:]


def _field(path: tuple[str, ...], schema: dict[str, Any], defs: dict[str, Any],
           required: bool) -> list[Field]:  # fmt: skip
    s = _resolve(schema, defs)
    label, hint = _label(path[-1]), str(s.get("description", ""))
    choices = tuple(str(v) for v in s.get("enum", ()))
    kind = s.get("type")
    if "properties" in s and kind == "object":  # a nested model
        inner = set(s.get("required", ()))
        return [f for n, sub in s["properties"].items()
                for f in _field((*path, n), sub, defs, required and n in inner)]  # fmt: skip
    if kind == "boolean":
        return [Field(path, "checkbox", label, False, hint, default=bool(s.get("default")))]
    if choices:
        return [Field(path, "select", label, required, hint, choices)]
    if kind == "array":
        items = _resolve(s.get("items", {}), defs)
        if items.get("enum"):
            return [Field(path, "checkboxes", label, required, hint,
                          tuple(str(v) for v in items["enum"]))]  # fmt: skip
        if items.get("type") == "object":
            shape = ", ".join(f"{k}=..." for k in items.get("properties", {}))
            return [Field(path, "lines", label, required, (hint + f" One a line: {shape}").strip())]
        return [Field(path, "list", label, required, (hint + " Comma-separated.").strip())]
    if kind == "object":
        keys = _resolve(s.get("propertyNames", {}), defs).get("enum")
        if keys:
            return [Field(path, "choices", label, required, hint, tuple(str(k) for k in keys))]
        return [
            Field(path, "pairs", label, required, (hint + " KEY=VALUE, comma-separated.").strip())
        ]
    if s.get("format") == "date":
        return [Field(path, "date", label, required, hint)]
    if kind == "integer":
        return [Field(path, "number", label, required, hint)]
    return [
        Field(path, "textarea" if s.get("maxLength", 0) > LONG else "text", label, required, hint)
    ]


def step(cmd: str) -> Step:
    """The form of one step, from its model's JSON schema."""
    model = MODELS[cmd]
    schema = model.model_json_schema(by_alias=True)
    defs, required = schema.get("$defs", {}), set(schema.get("required", ()))
    fields = [f for name, sub in schema["properties"].items() if name not in SKIP
              for f in _field((name,), sub, defs, name in required)]  # fmt: skip
    doc = " ".join((model.__doc__ or "").split()) if model.__doc__ else ""
    return Step(cmd, _label(cmd), doc, fields)


def allowed(state: str) -> list[str]:
    """The steps the lifecycle allows from `state` now (never `open`)."""
    return [cmd for cmd in MODELS
            if cmd != "open" and may(TRIGGERS.get(cmd, cmd), State(state))]  # fmt: skip


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _pairs(text: str, label: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in _split(text):
        key, equals, value = part.partition("=")
        if not equals:
            raise FormError(label, f"{part!r} is not KEY=VALUE")
        found[key.strip()] = value.strip()
    return found


class FormError(ValueError):
    def __init__(self, label: str, message: str) -> None:
        super().__init__(f"{label}: {message}")
        self.label = label


def data(form: Step, reference: str, sent: dict[str, list[str]]) -> dict[str, Any]:
    """The command as the import would read it: only the fields given (the model fills in
    its defaults); a nested model's fields gathered under its name."""
    known = {f.name for f in form.fields} | {
        f"{f.name}.{key}" for f in form.fields if f.kind == "choices" for key in f.choices
    }
    unknown = sorted(set(sent) - known)
    if unknown:  # (refused, as the API refuses a key its model does not have: never ignored)
        raise FormError("Form", f"unknown field {unknown[0][:40]!r}; nothing was read from it")
    found: dict[str, Any] = {"cmd": form.cmd, "episode": reference}
    for f in form.fields:
        values = sent.get(f.name, [])
        raw = values[0].strip() if values else ""
        value: Any
        if f.kind == "checkbox":
            value = bool(values)
        elif f.kind == "checkboxes":
            value = [v for v in values if v]
        elif f.kind == "choices":
            value = {key: sent[f"{f.name}.{key}"][0] == "yes" for key in f.choices
                     if sent.get(f"{f.name}.{key}", [""])[0] in ("yes", "no")}  # fmt: skip
        elif not raw:
            continue
        elif f.kind == "list":
            value = _split(raw)
        elif f.kind == "pairs":
            value = _pairs(raw, f.label)
        elif f.kind == "lines":
            value = [_pairs(line, f.label) for line in raw.splitlines() if line.strip()]
        elif f.kind == "number" or (f.kind == "select" and raw.isdigit()):
            value = int(raw) if raw.isdigit() else raw
        else:
            value = raw
        if value in ([], {}) and not f.required:
            continue
        *outer, last = f.path
        into = found.setdefault(outer[0], {}) if outer else found
        into[last] = value
    return found


def parse(form: Step, reference: str, sent: dict[str, list[str]]) -> _Command:
    """The step's command from the form, or FormError naming the first field that is wrong."""
    try:
        return MODELS[form.cmd].model_validate(data(form, reference, sent))
    except ValidationError as error:
        first = error.errors()[0]
        loc = tuple(str(p) for p in first["loc"])
        labels = {f.path: f.label for f in form.fields}
        label = next((labels[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in labels),
                     _label(loc[0]) if loc else "Form")  # fmt: skip
        raise FormError(label, first["msg"]) from None
