"""The aggregates' identifiers, made from the references people use (uuid5 in one namespace).

Here alone, without the aggregates' event classes, so that a query that only looks up rows by
identifier never loads them; aggregates.episode and aggregates.audit give the same names.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

NAMESPACE = uuid5(NAMESPACE_URL, "https://ehqa.example/episodes")


def episode_id(reference: str) -> UUID:
    return uuid5(NAMESPACE, f"episode:{reference}")


def child_record_id(child: str) -> UUID:
    return uuid5(NAMESPACE, f"child:{child}")


def audit_id(reference: str) -> UUID:
    return uuid5(NAMESPACE, f"audit:{reference}")
