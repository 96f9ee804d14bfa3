"""Policy documents on disk: the presets shipped with ehqa, and a council's own directory.

A council's file `NAME.toml` in the policy directory overrides or adds to the presets; it
usually `extends` a preset and changes only what differs.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from aggregates.errors import PolicyError
from aggregates.policy import Policy, resolve

PRESETS = Path(__file__).parent / "presets"
DEFAULT_POLICY = "st-helens"


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise PolicyError(f"policy file {path} is not valid TOML: {error}") from error


def documents(extra_dir: Path | None = None) -> dict[str, Mapping[str, Any]]:
    found: dict[str, Mapping[str, Any]] = {}
    for directory in (PRESETS, extra_dir):
        if directory is None:
            continue
        if not directory.is_dir():
            raise PolicyError(f"policy directory {directory} does not exist")
        for path in sorted(directory.glob("*.toml")):
            found[path.stem] = _read(path)
    return found


class PolicyBook:
    """Every policy this installation knows, resolved once."""

    def __init__(self, extra_dir: Path | None = None) -> None:
        self._documents = documents(extra_dir)
        self.get = lru_cache(maxsize=None)(self._resolve)

    def _resolve(self, name: str) -> Policy:
        return resolve(name, self._documents)

    def names(self) -> list[str]:
        return sorted(self._documents)
