"""The composition root: one store URL becomes the application, its views and its queries."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

from aggregates.episode import Episode
from ehqa.application import EhqaApplication
from ehqa.clock import Clock, london_today
from ehqa.policies import DEFAULT_POLICY, PolicyBook
from ehqa.store import postgres_conninfo, store_env
from projections.db import PostgresViews, SQLiteViews, ViewDatabase
from projections.queries import ReadModels
from projections.runner import ViewStatus, catch_up, catch_up_all, rebuild, status
from projections.views import (
    ChildrenProjection,
    EpisodesProjection,
    Projection,
    TimelineProjection,
)


def open_views(env: dict[str, str]) -> ViewDatabase:
    module = env["PERSISTENCE_MODULE"]
    if module == "eventsourcing.sqlite":
        return SQLiteViews(env["SQLITE_DBNAME"])
    if module == "eventsourcing.postgres":
        return PostgresViews(postgres_conninfo(env), env.get("POSTGRES_SCHEMA"))
    return SQLiteViews(":memory:")


class Services:
    """What every entry point needs: commands through `app`, questions through `read`."""

    def __init__(
        self,
        database_url: str,
        *,
        policy_dir: Path | None = None,
        default_policy: str = DEFAULT_POLICY,
        clock: Clock = london_today,
    ) -> None:
        env = store_env(database_url)
        self.database_url = database_url
        self.app = EhqaApplication(
            env, policies=PolicyBook(policy_dir), default_policy=default_policy, clock=clock
        )
        self.views = open_views(env)
        self.projections: list[Projection] = [
            EpisodesProjection(self._load_episode, self.app.policies.get, self.app.calendar),
            TimelineProjection(),
            ChildrenProjection(),
        ]
        self.read = ReadModels(self.views, self.app.calendar)

    def _load_episode(self, episode_id: UUID, version: int) -> Episode:
        episode: Episode = self.app.repository.get(episode_id, version=version)
        return episode

    def projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        known = ", ".join(p.name for p in self.projections)
        raise KeyError(f"unknown view '{name}' (views: {known})")

    def catch_up(self) -> int:
        return catch_up_all(self.app, self.views, self.projections)

    def catch_up_one(self, name: str, **options: Any) -> int:
        return catch_up(self.app, self.views, self.projection(name), **options)

    def rebuild(self, name: str, **options: Any) -> int:
        return rebuild(self.app, self.views, self.projection(name), **options)

    def status(self) -> list[ViewStatus]:
        return status(self.app, self.views, self.projections)

    def close(self) -> None:
        self.views.close()
        self.app.close()
