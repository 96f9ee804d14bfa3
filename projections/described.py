"""An event described as the timeline shows it, read from its stored JSON (for a rebuild).

A rebuild of the timeline describes every episode event in the log. Decoding each into its
domain event (the library's mapper) and describing that (`describe_event`) costs more than
reading the event from the log; `StoredDescriber` reads the stored JSON (decrypted and
decompressed as the mapper does) and makes the same description from it, value for value: the
same keys in the same order, each transcoded date given by the store's own transcoding and
written back as ISO text, as `describe_event` writes it. So the row made from it is byte for
byte the live follower's. An event it cannot read that way (a value of another transcoded type,
or one inside another value; an event stored before authors were kept, or one its class
upcasts; JSON orjson does not read) is decoded and described as the live follower does it, and
fails (to be dead-lettered) exactly as there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from json import encoder as json_encoder
from typing import Any, cast

import orjson
from eventsourcing.persistence import DatetimeAsISO, Mapper, Notification
from eventsourcing.utils import resolve_topic

from projections.histories import Stored
from projections.protocol import BOOKKEEPING, NOT_DESCRIBED, describe_event

Body = dict[str, Any]
# The text `isoformat` writes of a valid UTC time (with its microseconds when not 0): read, then
# written again, it is the same text.
CANONICAL_UTC = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.(?!000000)[0-9]{6})?\+00:00"
)
SEEN = 10_000  # business dates whose ISO text a describer keeps (about 27 years of them)
# A transcoded value's own key, as the store writes it (unescaped: in a text with no \u escape,
# counting it counts every transcoded value, however deep).
TRANSCODED, ESCAPE = b'"_type_"', b"\\u"


def _json_dumps() -> Callable[[Any], str]:
    """`json.dumps` with its default options, without its check for circular references (a
    value read from JSON has none): the same text, in two thirds of the time."""
    make = getattr(json_encoder, "c_make_encoder", None)
    if make is None:  # (an interpreter without the C accelerator)
        return json.dumps
    default, escape = json_encoder.JSONEncoder().default, json_encoder.encode_basestring_ascii
    encode = make(None, default, escape, None, ": ", ", ", False, False, True)
    return lambda value: "".join(encode(value, 0))


dumps = _json_dumps()


def body_text(body: Body) -> str:
    """A timeline row's body: orjson's text (compact, UTF-8) in an eighth of `dumps`' time; what
    orjson refuses (a lone surrogate, an integer over 64 bits, a key that is not text) is written
    by `dumps`, as before. The live follower and a rebuild both write it, so their rows agree."""
    try:
        return orjson.dumps(body).decode()
    except orjson.JSONEncodeError:
        return dumps(body)


class StoredJSON:
    """A stored event's JSON, read as the mapper reads it, for the events a reader may read
    without the mapper: its class's name (None if the class upcasts its events), and the text."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self._mapper = mapper
        self._names = getattr(mapper.transcoder, "names", {})
        self._kinds: dict[str, str | None] = {}  # topic -> the event's name (None: decode it)

    def _kind(self, topic: str) -> str | None:
        if topic not in self._kinds:
            cls = resolve_topic(topic)
            self._kinds[topic] = cls.__name__ if getattr(cls, "class_version", 1) == 1 else None
        return self._kinds[topic]

    def _plain(self, state: bytes) -> bytes:
        mapper = self._mapper
        if mapper.cipher:
            state = mapper.cipher.decrypt(state)
        if mapper.compressor:
            state = mapper.compressor.decompress(state)
        return state


class StoredFields(StoredJSON):
    """An event's name and its fields as stored, for an event the mapper would decode without
    fail into an event whose fields are those values, transcoded ones decoded (else None)."""

    def __call__(self, stored: Stored) -> tuple[str, Body] | None:
        try:
            kind = self._kind(stored.topic)
            state = self._plain(stored.state)
            parsed = orjson.loads(state)
            if kind is None or type(parsed) is not dict or "class_version" in parsed:
                return None
            if ESCAPE in state:
                return None  # (a key may be escaped, and not counted)
            transcoded = 0
            for value in parsed.values():
                if type(value) is dict and "_type_" in value:
                    self._names[value["_type_"]].decode(value["_data_"])  # (it can be read)
                    transcoded += 1
            return (kind, parsed) if state.count(TRANSCODED) == transcoded else None
        except Exception:  # (decoded instead, which fails as the live follower fails)
            return None


class StoredDescriber(StoredJSON):
    """`describe_event(mapper.to_domain_event(stored))`, read from the stored JSON."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        super().__init__(mapper)
        self._seen: dict[tuple[str, str], str] = {}  # (transcoding, stored text) -> ISO text
        self._utc = {name for name, way in self._names.items() if type(way) is DatetimeAsISO}

    def __call__(self, stored: Stored) -> Body:
        try:
            body = self._read(stored)
        except Exception:  # (decoded instead, which fails as the live follower fails)
            body = None
        if body is None:
            return describe_event(self._mapper.to_domain_event(cast(Notification, stored)))
        return body

    def _read(self, stored: Stored) -> Body | None:
        kind = self._kind(stored.topic)
        if kind is None:
            return None
        state = self._plain(stored.state)
        if ESCAPE in state:
            return None  # (a key may be escaped, and not counted)
        parsed = orjson.loads(state)
        if "author" not in parsed or "class_version" in parsed:
            return None  # (the mapper adds the one and upcasts by the other)
        iso, on = self._iso, self._iso(parsed["on"])
        body = {"on": on, "recorded_at": iso(parsed["timestamp"], False), "event": kind}
        found = state.count(TRANSCODED)
        if found == 2:  # (no other transcoded value: the fields as they are, in their order)
            body.update(parsed)
            body["on"] = on
            for key in BOOKKEEPING:
                body.pop(key, None)
            return body
        transcoded = 2
        for key, value in parsed.items():
            if key in NOT_DESCRIBED:
                continue
            if type(value) is dict and "_type_" in value:
                value = iso(value)
                transcoded += 1
            body[key] = value
        return body if found == transcoded else None  # (else one is inside another value)

    def _iso(self, value: Any, often: bool = True) -> str:
        """A transcoded date's ISO text, as `describe_event` writes the decoded date (business
        dates recur: `often`, their text is kept, up to SEEN of them)."""
        if type(value) is not dict or len(value) != 2:
            raise ValueError("not a transcoded value")
        name, data = value["_type_"], value["_data_"]
        if often and (name, data) in self._seen:
            return self._seen[name, data]
        decoded = self._names[name].decode(data)
        if not isinstance(decoded, date):
            raise ValueError("not a date")
        # (a UTC time the library's transcoding read is given back as it was stored if that is
        # what `isoformat` writes: writing it again costs three times what reading it does)
        verbatim = name in self._utc and CANONICAL_UTC.fullmatch(data)
        text = data if verbatim else decoded.isoformat()
        if often:
            if len(self._seen) >= SEEN:
                self._seen.clear()
            self._seen[name, data] = text
        return text
