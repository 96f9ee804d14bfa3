"""`ehqa --help` lists the commands from ehqa.cli.listing.COMMANDS, without importing the areas:
the table must say what the areas' own commands would (names, order, areas, help)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from typer.core import TyperGroup
from typer.main import get_command
from typer.testing import CliRunner

from ehqa.cli import AREAS, Commands, app, infos
from ehqa.cli.listing import COMMANDS


def test_the_table_names_every_command_of_every_area_in_typers_order() -> None:
    registered = [(name, area) for area in AREAS for name in infos(area)]
    assert [(name, area) for name, area, _ in COMMANDS] == registered


def test_the_table_holds_the_first_paragraph_of_each_commands_help() -> None:
    group: Any = get_command(app)
    for name, _, text in COMMANDS:
        made = group.commands[name]
        assert not made.hidden and not made.deprecated, name
        assert not getattr(made, "rich_help_panel", None), name  # (all in the one panel)
        shown = inspect.cleandoc(made.short_help or made.help or "").split("\n\n")[0]
        assert text == shown, name


@pytest.mark.parametrize("width", ["80", "200"])
def test_help_from_the_table_is_help_from_the_made_commands(
    monkeypatch: pytest.MonkeyPatch, width: str
) -> None:
    monkeypatch.setenv("COLUMNS", width)
    listed = CliRunner().invoke(app, ["--help"])
    monkeypatch.setattr(Commands, "format_help", TyperGroup.format_help)  # (makes them all)
    made = CliRunner().invoke(app, ["--help"])
    assert listed.exit_code == made.exit_code == 0
    assert "drift" in listed.output and listed.output == made.output
