"""/health and /ready: for load balancers and orchestrators (no credentials)."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter

from ehqa.api.deps import ApiDep
from ehqa.api.errors import problem, responses
from ehqa.api.schemas import Health, Ready

log = logging.getLogger("ehqa.api")
router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health, operation_id="get_health", responses=responses(400))
def health() -> dict[str, Any]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/ready", response_model=Ready, operation_id="get_ready", responses=responses(400, 503))
def ready(api: ApiDep) -> Any:
    """Readiness: the store answers and the views are caught up. Events a view could not
    apply and skipped are counted in `dead_letters` (they do not make it unready)."""
    s = api.services
    try:
        s.catch_up()
        found = s.status()
    except Exception as error:  # the store is unreachable: the cause is logged, not shown
        log.error(json.dumps({"ready": "store does not answer", "error": str(error)[:2000]}))
        return problem(503, "Service Unavailable", "the store does not answer (see the log)")
    views = {v.name: v.position for v in found}
    return {"status": "ready", "views": views,
            "dead_letters": {v.name: v.dead_letters for v in found}}  # fmt: skip
