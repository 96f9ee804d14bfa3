"""The HTTP side of idempotency keys (the key store is ehqa.idempotency): a command sent again
with the same `Idempotency-Key` by the same caller is recorded once, and answered as the first
time, refusals included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import Tracking
from fastapi.responses import JSONResponse

from aggregates.access import Principal
from ehqa.api.core import Api
from ehqa.api.errors import PROBLEM, Refused, as_problem, body
from ehqa.application import ConflictError
from ehqa.idempotency import Answer, KeyReused, StillRunning, tracking

Run = Callable[[Tracking | None, bool], tuple[int, Any]]


def idempotent(api: Api, who: Principal, key: str | None, request: str, run: Run,
               reference: str) -> JSONResponse:  # fmt: skip
    """Run a command once per (caller's subject, Idempotency-Key); a retry gets the first
    answer back. Refusals are answers too (a retry of a refused command is refused alike).
    `run(tracking, recorded)` records the command with `tracking` in its transaction, or, if
    `recorded` (an attempt that died before answering had recorded it), only answers."""
    if key is None:
        status, answer = run(None, False)
        return JSONResponse(answer, status_code=status)
    try:
        with api.lock:
            earlier = api.keys.claim(who.subject, key, request)
    except KeyReused:
        raise Refused(422, "Unprocessable Content",
                      f"Idempotency-Key {key!r} was used for another request") from None  # fmt: skip
    except StillRunning:
        raise Refused(409, "Conflict", f"a request with Idempotency-Key {key!r} is still being"
                      " handled; retry in a few seconds") from None  # fmt: skip
    if isinstance(earlier, Answer):
        if earlier.status < 400:  # the episode it shows: only while the caller may still read it
            api.readable(who, reference, "replay of a recorded command")
        media = PROBLEM if earlier.status >= 400 else "application/json"
        return JSONResponse(earlier.body, status_code=earlier.status, media_type=media)
    mark = tracking(who.subject, key)

    def recorded() -> bool:
        return bool(api.services.app.recorder.max_tracking_id(mark.application_name))

    try:
        try:
            status, answer = run(mark, recorded())
        except ConflictError:
            if not recorded():
                raise
            # an earlier attempt (whose lease ran out while it was still working) recorded
            # the command meanwhile: answer as it would have
            status, answer = run(mark, True)
    except Exception as error:
        refused = as_problem(error)
        with api.lock:
            if refused is None:  # a failure, not an answer: a retry may run at once
                api.keys.release(who.subject, key, earlier)
            else:
                api.keys.answer(who.subject, key, earlier, refused.status, body(refused))
        raise
    with api.lock:
        api.keys.answer(who.subject, key, earlier, status, answer)
    return JSONResponse(answer, status_code=status)
