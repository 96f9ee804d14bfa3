"""How stored events are read: eventsourcing's JSON format, parsed by orjson.

The events are written exactly as eventsourcing's `JSONTranscoder` writes them (the standard
library's JSON encoder, a value of a registered type as `{"_type_": NAME, "_data_": ...}`), so
a store written by this release is byte for byte what the releases before it wrote, and they
can read it. Reading parses the JSON with orjson, then turns each `{"_type_", "_data_"}` object
back into its value by the same registered transcodings, innermost first, as the library's
`object_hook` does; what orjson does not read (NaN or Infinity, which the standard library
writes for such floats, an integer beyond 64 bits) is read by the library's own decoder. Both
give the same values, type for type (tests/integration/test_codec.py reads a store written with
the library's transcoder both ways).
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, TranscodingNotRegisteredError


class OrjsonTranscoder(JSONTranscoder):
    """eventsourcing's JSON transcoder whose `decode` parses with orjson."""

    def decode(self, data: bytes) -> Any:
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:  # (NaN, Infinity, a very long integer ...)
            return super().decode(data)
        return self._revive(parsed)

    def _revive(self, value: Any) -> Any:
        """The value with every transcoded object in it decoded, innermost first (in place)."""
        kind = type(value)
        if kind is dict:
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._revive(item)
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                return self._transcoded(value["_type_"], value["_data_"])
            return value
        if kind is list:
            for index, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    value[index] = self._revive(item)
        return value

    def _transcoded(self, name: Any, data: Any) -> Any:
        try:
            transcoding = self.names[name]
        except KeyError:
            msg = (
                f"Data serialized with name '{name}' is not deserializable. Please register a "
                "custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg) from None
        return transcoding.decode(data)
