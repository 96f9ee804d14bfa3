"""A fact is what a clock needs of an event: its kind, its business date and its details."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class Fact:
    kind: str
    on: date
    details: Mapping[str, Any] = field(default_factory=dict)
