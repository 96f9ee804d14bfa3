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
from ehqa.bounds import OutOfBounds, check, check_document

PRESETS = Path(__file__).parent / "presets"
DEFAULT_POLICY = "st-helens"


def _read(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        check("code", path.stem, f"policy file {path}: its name")
        check_document(document, f"policy file {path}")
        if isinstance(document.get("extends"), str):
            check("code", document["extends"], f"policy file {path}: field 'extends'")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PolicyError(f"policy file {path} is not valid TOML: {error}") from error
    except OutOfBounds as error:
        raise PolicyError(str(error)) from None
    return document


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
