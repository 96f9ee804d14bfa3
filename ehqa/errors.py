"""What the application refuses beyond the domain's own rules: a reference that names nothing
or is already taken, and a write that lost a race. Each is a DomainError, with a message a
practitioner can act on."""

from __future__ import annotations

from aggregates.errors import DomainError


class EpisodeNotFoundError(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no episode {reference}")
        self.reference = reference


class EpisodeExistsError(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"episode {reference} already exists: choose another reference")
        self.reference = reference


class AuditNotFoundError(EpisodeNotFoundError):
    def __init__(self, reference: str) -> None:
        DomainError.__init__(self, f"no audit {reference}")
        self.reference = reference


class AuditExistsError(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"audit {reference} already exists: choose another reference")


class ConflictError(DomainError):
    """Someone else changed the episode between our read and our write; nothing was recorded."""

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"episode {reference} was changed by someone else at the same time; "
            "nothing was recorded: read it again and retry"
        )
        self.reference = reference
