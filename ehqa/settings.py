"""The service's settings: one typed class, read once from the environment (`EHQA_*`).

The command line and the HTTP server both take their settings from here; `docs/settings.md` is
generated from this class (`python -m ehqa.settings > docs/settings.md`, checked by a test).
An `EHQA_*` variable that names no setting is refused, so a typo is never silently ignored.

The variables are read as pydantic-settings reads them (names in any case, each value the text
given, validated by the model), by `environment()`: pydantic-settings itself is not loaded, as
every command would pay for its import (asyncio among it).
"""

from __future__ import annotations

import os
import sys
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from ehqa.bounds import Subject
from ehqa.policies import DEFAULT_POLICY
from ehqa.store import DEFAULT_DATABASE

PREFIX = "EHQA_"
# Variables of this prefix that are not settings of the service: the tests' and benchmarks'.
NOT_SETTINGS = ("EHQA_TEST_", "EHQA_BENCH_")


class SettingsError(ValueError):
    """A setting is missing, malformed or unknown: the message names the variable."""


def environment() -> dict[str, str]:
    """The settings given by `EHQA_*` variables, by field name (a variable's name in any case)."""
    given = {name.lower(): value for name, value in os.environ.items()}
    found = {name: given.get(f"{PREFIX}{name}".lower()) for name in Settings.model_fields}
    return {name: value for name, value in found.items() if value is not None}


class Settings(BaseModel):
    """Made from the environment's `EHQA_*` variables, with the values given on top."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**environment(), **values})

    database_url: str = Field(
        DEFAULT_DATABASE,
        min_length=1,
        max_length=2_000,
        description="The store: an SQLite file path, or postgresql://user@host:port/dbname"
        " (add ?schema=NAME for a schema of its own).",
    )
    policy_dir: Path | None = Field(
        None, description="A directory of the council's own policy files (TOML)."
    )
    default_policy: str = Field(
        DEFAULT_POLICY,
        min_length=1,
        max_length=64,
        description="The policy for episodes that name none.",
    )
    today: date | None = Field(
        None,
        description="A fixed date (YYYY-MM-DD) to use as today, for rehearsals and tests;"
        " unset, today is the wall clock's date in Europe/London.",
    )
    by: Subject | None = Field(
        None,
        description="Who records, on the command line: a stable subject stored on every fact"
        ' (unset: "os:" and the operating-system user name).',
    )
    sweep_interval: float = Field(
        300.0, gt=0, le=86_400, description="Seconds between sweeps beside the server."
    )
    background: bool = Field(
        True,
        description="Run the view follower and the sweep beside the server (off when another"
        " process runs them, e.g. `ehqa scheduler run`).",
    )
    staff_file: Path | None = Field(
        None, description="A TOML file of line managers ([managers] worker = manager)."
    )
    auditors_file: Path | None = Field(
        None,
        description="A TOML file of the auditors and their roles, for the audit dashboard's"
        ' programme ([auditors] "Name" = "role", as `ehqa audit programme --auditors`).',
    )
    oidc_issuer: str | None = Field(
        None, max_length=500, description="The OIDC issuer whose JWTs the API accepts."
    )
    oidc_audience: str | None = Field(
        None, max_length=500, description="The audience those JWTs must name."
    )
    oidc_jwks_file: Path | None = Field(
        None, description="The issuer's signing keys as a JWKS file (read at start-up)."
    )
    oidc_jwks_url: str | None = Field(
        None,
        max_length=2_000,
        description="Or the issuer's JWKS address (fetched once at start-up).",
    )
    oidc_client_id: str | None = Field(
        None,
        max_length=500,
        description="Pages: this service's client id at the council's OIDC provider (sign-in"
        " with the authorization-code flow and PKCE).",
    )
    oidc_client_secret: str | None = Field(
        None, max_length=2_000, description="Pages: the client secret that provider issued."
    )
    oidc_metadata_url: str | None = Field(
        None,
        max_length=2_000,
        description="Pages: the provider's discovery document"
        " (https://.../.well-known/openid-configuration).",
    )
    session_secret: str | None = Field(
        None,
        min_length=32,
        max_length=500,
        description="Pages: the key that signs session cookies (at least 32 characters); unset,"
        " `ehqa serve` makes one at start-up, so sessions end when it restarts.",
    )
    session_idle_minutes: float = Field(
        30.0,
        gt=0,
        le=1_440,
        description="Pages: a session unused this long ends, and the next page asks to sign in.",
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="How the server logs: plain text or one JSON object per line."
    )
    alert_file: Path | None = Field(
        None, description="`ehqa deliver` and the scheduler: a JSON Lines file for alerts."
    )
    alert_webhook: str | None = Field(
        None, max_length=2_000, description="Or a webhook address alerts are posted to."
    )
    cipher_keys: SecretStr | None = Field(
        None,
        description="Encryption at rest: the application's keys as ID:KEY pairs, comma-separated,"
        " newest first (each KEY 32 random bytes in base64: `python -m ehqa.keyring ID` makes"
        " one). New events and children's data keys are encrypted with the newest; any listed"
        " key reads what it encrypted (docs/privacy.md). Unset: nothing is encrypted at rest.",
    )

    @field_validator("cipher_keys")
    @classmethod
    def _keys_readable(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            from ehqa.keyring import CipherKeyError, parse_keys

            try:
                parse_keys(value.get_secret_value())
            except CipherKeyError as error:
                raise ValueError(str(error)) from None
        return value

    def cipher(self) -> str | None:
        """The keys as text (None when unset), for `Services(cipher_keys=...)`."""
        return None if self.cipher_keys is None else self.cipher_keys.get_secret_value()

    digest_file: Path | None = Field(
        None,
        description="`ehqa digest` and the scheduler: a JSON Lines file the chain's digest"
        " (date, position, root hash) is appended to once a day; keep it where the"
        " database's administrators cannot rewrite it (docs/trail.md).",
    )
    digest_webhook: str | None = Field(
        None,
        max_length=2_000,
        description="The scheduler also posts each digest of EHQA_DIGEST_FILE to this address"
        " (at least once, as alerts are delivered).",
    )

    @model_validator(mode="after")
    def _digest_webhook_has_a_file(self) -> Settings:
        if self.digest_webhook and self.digest_file is None:
            raise ValueError("EHQA_DIGEST_WEBHOOK needs EHQA_DIGEST_FILE (the digests it posts)")
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_issuer:
            if not self.oidc_audience:
                raise ValueError("EHQA_OIDC_AUDIENCE is required with EHQA_OIDC_ISSUER")
            if (self.oidc_jwks_file is None) == (self.oidc_jwks_url is None):
                raise ValueError(
                    "with EHQA_OIDC_ISSUER set exactly one of EHQA_OIDC_JWKS_FILE and"
                    " EHQA_OIDC_JWKS_URL is required"
                )
        elif self.oidc_audience or self.oidc_jwks_file or self.oidc_jwks_url:
            raise ValueError("EHQA_OIDC_* settings need EHQA_OIDC_ISSUER")
        sign_in = (self.oidc_client_id, self.oidc_client_secret, self.oidc_metadata_url)
        if any(sign_in) and not all(sign_in):
            raise ValueError(
                "page sign-in needs all three of EHQA_OIDC_CLIENT_ID, EHQA_OIDC_CLIENT_SECRET"
                " and EHQA_OIDC_METADATA_URL"
            )
        return self


def unknown_variables(environ: dict[str, str] | None = None) -> list[str]:
    environ = dict(os.environ) if environ is None else environ
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(
        name
        for name in environ
        if name.startswith(PREFIX) and name not in known and not name.startswith(NOT_SETTINGS)
    )


def load(**overrides: object) -> Settings:
    """Settings from the environment, with `overrides` (e.g. command-line options) on top.
    Raises SettingsError naming the variable at fault."""
    unknown = unknown_variables()
    if unknown:
        known = ", ".join(PREFIX + name.upper() for name in Settings.model_fields)
        raise SettingsError(f"unknown setting {', '.join(unknown)} (known: {known})")
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        name = PREFIX + where.upper() if where else "settings"
        message = first["msg"].removeprefix("Value error, ")
        raise SettingsError(f"{name}: {message}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return load()


def markdown() -> str:
    """Every setting with its variable, default and meaning (docs/settings.md)."""
    lines = [
        "# Settings",
        "",
        "Generated from `ehqa.settings.Settings` by `python -m ehqa.settings`; do not edit.",
        "Each is read from the environment variable named; command-line options such as `--db`",
        "override them for one run. A variable beginning `EHQA_` that is not listed is refused.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = "(unset)" if field.default is None else f"`{field.default}`"
        lines.append(f"| `{PREFIX}{name.upper()}` | {default} | {field.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
