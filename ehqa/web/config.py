"""What the pages need from the settings: the session key and idle timeout, and the council's
OIDC provider for page sign-in (if any)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from ehqa.settings import Settings


@dataclass(frozen=True)
class OidcClient:
    """This service as a client of the council's OIDC provider (authorization code with PKCE)."""

    client_id: str
    client_secret: str
    metadata_url: str


@dataclass(frozen=True)
class WebConfig:
    session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    idle_minutes: float = 30.0
    oidc: OidcClient | None = None

    @classmethod
    def of(cls, settings: Settings) -> WebConfig:
        """From the settings; without EHQA_SESSION_SECRET, a key made now (`ehqa serve` makes
        one for all its workers, so that a session signed by one is good in another)."""
        oidc = None
        if settings.oidc_client_id and settings.oidc_client_secret and settings.oidc_metadata_url:
            oidc = OidcClient(
                settings.oidc_client_id, settings.oidc_client_secret, settings.oidc_metadata_url
            )
        secret = settings.session_secret or secrets.token_urlsafe(32)
        return cls(secret, settings.session_idle_minutes, oidc)
