"""Bounds on what reaches the API at all, as a pure ASGI middleware in front of every route.

- A request body over `BODY_MAX` bytes is refused with 413, from its Content-Length before any
  of it is read, or (sent without one, chunked) as soon as the bytes received pass the bound.
- A body that is not UTF-8, not JSON, nested deeper than `DEPTH_MAX`, or holding an unpaired
  surrogate escape (`\\ud800`) is refused with 400.
- A path segment or query parameter (name or value) that, percent-decoded, is not UTF-8, holds a
  control character (Unicode category Cc, newline and tab included) or an unpaired surrogate, or
  is longer than `PARAMETER_MAX` characters is refused with 400 naming it.

A form posted to a page (urlencoded, under /web) is bounded in size but not read as JSON.

Every refusal is problem+json (type, title, status, detail), sent before the application sees
the request: nothing is recorded. What each field of a body may hold is decided later, field by
field, by ehqa.bounds (422 naming the field).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from ehqa.bounds import bad_character

BODY_MAX: Final = 1024 * 1024  # 1 MiB
DEPTH_MAX: Final = 32
PARAMETER_MAX: Final = 1000
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
FORM: Final = b"application/x-www-form-urlencoded"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Refusal(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class Limits:
    """Refuse oversized, malformed or control-character-bearing requests before the app runs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_path(scope)
            _check_query(scope.get("query_string", b""))
            declared = _content_length(scope)
            if declared is not None and declared > BODY_MAX:
                raise Refusal(413, _too_large(f"declares {declared:,} bytes"))
            body, more = await _read(receive)
            if body and not _page_form(scope):
                _check_body(body)
        except Refusal as refusal:
            await _problem(send, refusal)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, _replay(body, more, receive), watched)


async def _read(receive: Receive) -> tuple[bytes, bool]:
    """The whole body (at most BODY_MAX bytes), and whether the client is still connected."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks), False
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > BODY_MAX:
            raise Refusal(413, _too_large(f"sent more than {BODY_MAX:,} bytes"))
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, connected: bool, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            if connected:
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}
        return await receive()  # (waits for the client to go away, as the server's would)

    return replay


def _page_form(scope: Scope) -> bool:
    """A form posted to a page (under /web, urlencoded): not JSON; each field is bounded by
    the page's route, which refuses a bad one by name."""
    if not scope.get("path", "").startswith("/web/"):
        return False
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-type":
            return bytes(value).split(b";")[0].strip().lower() == FORM
    return False


def _too_large(what: str) -> str:
    return f"the request body {what}; at most {BODY_MAX:,} bytes (1 MiB) are accepted"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                raise Refusal(400, "the Content-Length header is not a number") from None
    return None


def _text(raw: bytes, what: str) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = raw[error.start]
        raise Refusal(400, f"{what}: not valid UTF-8 (byte 0x{bad:02X} at {error.start})") from None
    why = bad_character(text)
    if why is None and len(text) > PARAMETER_MAX:
        why = f"is {len(text):,} characters long; at most {PARAMETER_MAX:,} are allowed"
    if why is not None:
        raise Refusal(400, f"{what}: {why}")
    return text


def _check_path(scope: Scope) -> None:
    raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "surrogateescape")
    for n, segment in enumerate(raw.split(b"/")):
        if segment:
            _text(unquote_to_bytes(segment), f"path segment {n}")


def _check_query(query: bytes) -> None:
    for pair in query.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        name = _text(unquote_to_bytes(raw_name.replace(b"+", b" ")), "a query parameter's name")
        _text(unquote_to_bytes(raw_value.replace(b"+", b" ")), f"query parameter '{name}'")


def _check_body(body: bytes) -> None:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        detail = f"the body is not valid UTF-8 (byte 0x{body[error.start]:02X} at {error.start})"
        raise Refusal(400, detail) from None
    try:
        document = json.loads(text, object_pairs_hook=_no_repeated_keys)
    except json.JSONDecodeError as error:
        detail = (
            f"the body is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        )
        raise Refusal(400, detail) from None
    except RecursionError:
        raise Refusal(400, f"the body nests deeper than {DEPTH_MAX} levels") from None
    except ValueError as error:  # a number too long to read, or a key given twice
        raise Refusal(400, f"the body is not acceptable JSON ({str(error)[:200]})") from None
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > DEPTH_MAX:
                raise Refusal(400, f"the body nests deeper than {DEPTH_MAX} levels")
            inner = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((x, depth + 1) for x in inner)
        elif isinstance(item, str) and _SURROGATE.search(item):
            why = bad_character(item) or "contains an unpaired surrogate"
            raise Refusal(400, f"the body holds a string that {why}")


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"key {key[:100]!r} is given twice in one object")
        found[key] = value
    return found


async def _problem(send: Send, refusal: Refusal) -> None:
    # (RFC 9110's names, as the rest of the API uses them)
    title = {413: "Content Too Large", 422: "Unprocessable Content"}.get(
        refusal.status, HTTPStatus(refusal.status).phrase
    )
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": refusal.status, "detail": refusal.detail}
    ).encode()
    headers = [(b"content-type", b"application/problem+json"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    if refusal.status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
