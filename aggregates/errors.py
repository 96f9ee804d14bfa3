"""The domain's errors: each message says what was refused and what would make it possible."""

from __future__ import annotations


class DomainError(Exception):
    """A command was refused; nothing was recorded."""


class LifecycleError(DomainError):
    """The step is not allowed from the episode's current state."""


class DateError(DomainError):
    """The business date is in the future or before what the step depends on."""


class EpisodeClosedError(LifecycleError):
    """Nothing may be recorded on a closed episode."""


class InvalidCommandError(DomainError):
    """A command's values break a rule of the domain (an unknown clock, a bad level, ...)."""


class ChildAlreadyOpenError(DomainError):
    """A child may have at most one open episode."""

    def __init__(self, child: str, episode: str) -> None:
        super().__init__(
            f"child {child} already has an open episode, {episode}: "
            "close it (or record its MASH outcome) before opening another"
        )
        self.child = child
        self.episode = episode


class PolicyError(DomainError):
    """A policy document is unknown or invalid."""
