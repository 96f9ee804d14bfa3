"""One log line per request (with a request id the response carries), server errors answered as
problem+json, and the server's log format: plain text, or one JSON object per line."""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ehqa.api.errors import PROBLEM, Problem

log = logging.getLogger("ehqa.api")


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def structured_log(request: Request, call_next: Callable[[Request], Any]) -> Response:
        """One JSON line per request, with a request id that the response carries (header
        X-Request-ID; and `request_id` in a server error's problem body). A server error is
        logged with its cause and answered as problem+json, never as a bare traceback."""
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        request.state.request_id = request_id
        line: dict[str, Any] = {"request_id": request_id, "method": request.method,
                                "path": request.url.path}  # fmt: skip
        try:
            response: Response = await call_next(request)
        except Exception as error:
            line |= {"status": 500, "error": f"{type(error).__name__}: {error}"[:2000]}
            log.error(json.dumps(line | {"ms": _ms(started)}), exc_info=error)
            body = Problem(title="Internal Server Error", status=500, request_id=request_id,
                           detail="the server failed; quote the request id when reporting it")  # fmt: skip
            response = JSONResponse(body.model_dump(), status_code=500, media_type=PROBLEM)
        else:
            log.info(json.dumps(line | {"status": response.status_code, "ms": _ms(started)}))
        response.headers["X-Request-ID"] = request_id
        return response


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
