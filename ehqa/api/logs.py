"""One log line per request (with a request id the response carries), server errors answered as
problem+json, and the server's log format: plain text, or one JSON object per line."""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehqa.api.errors import PROBLEM, Problem

log = logging.getLogger("ehqa.api")


def install(app: FastAPI) -> None:
    app.add_middleware(RequestLog)


class RequestLog:
    """One JSON line per request, with a request id that the response carries (header
    X-Request-ID; and `request_id` in a server error's problem body). A server error is logged
    with its cause and answered as problem+json, never as a bare traceback. (Plain ASGI: a
    request is not handed through a task and a stream of its own, as `@app.middleware` does.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id  # (request.state.request_id)
        line: dict[str, Any] = {"request_id": request_id, "method": scope["method"],
                                "path": scope["path"]}  # fmt: skip
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                MutableHeaders(scope=message).append("X-Request-ID", request_id)
                if status is None:  # (not the problem answered for a server error, below)
                    log.info(json.dumps(line | {"status": message["status"], "ms": _ms(started)}))
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            line |= {"status": 500, "error": f"{type(error).__name__}: {error}"[:2000]}
            log.error(json.dumps(line | {"ms": _ms(started)}), exc_info=error)
            if status is not None:
                raise  # (the answer had begun: it cannot become a problem now)
            status = 500
            body = Problem(title="Internal Server Error", status=500, request_id=request_id,
                           detail="the server failed; quote the request id when reporting it")  # fmt: skip
            response = JSONResponse(body.model_dump(), status_code=500, media_type=PROBLEM)
            await response(scope, receive, send_with_id)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


class JsonLines(logging.Formatter):
    """A record as one JSON object: time, level, logger, and the message's own fields when it
    is a JSON object (the request lines), else `message`; a traceback as `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        try:
            fields = json.loads(message) if message.startswith("{") else None
        except ValueError:
            fields = None
        line |= fields if isinstance(fields, dict) else {"message": message}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure(form: Literal["text", "json"]) -> None:
    """Log at INFO to standard error as `form`; with json, uvicorn's own lines too."""
    if form == "text":
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for name in SERVER_LOGGERS:
        for server_handler in logging.getLogger(name).handlers:
            server_handler.setFormatter(JsonLines())
