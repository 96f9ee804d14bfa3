"""Tamper evidence: `ehqa verify` walks the chains of the log, `ehqa digest` writes a digest of
its head to a file outside the database (docs/trail.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ehqa.cli.context import bounded, fail, open_services, run_of, today
from ehqa.store import StoreURLError, store_env

# (each command imports what it alone needs: `ehqa --help` and the other commands skip it)

app = typer.Typer()


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    episode: Annotated[
        str | None, typer.Option(help="Walk only this episode's chain (its reference).")
    ] = None,
    digests: Annotated[
        Path | None,
        typer.Option(
            help="A digest file (JSON Lines, as `ehqa digest` writes): the log's running hash"
            " must match every digest in it."
        ),
    ] = None,
    seal_first: Annotated[
        bool,
        typer.Option(
            "--seal",
            help="First chain the events stored before the chain existed (once, resumable).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Walk the chains in one pass and report the first break (exit 1), naming the episode, the
    position and what kind: edited, deleted, inserted, reordered or rewritten. Exit 0 green."""
    from ehqa.chain import seal
    from ehqa.digest import DigestFileError
    from ehqa.trail import EpisodeUnknownError, verify

    bounded(episode=("reference", episode))
    if episode and digests:
        fail("--digests checks the whole log: leave out --episode", code=2)
    services = open_services(ctx)
    try:
        if seal_first:
            sealed = sum(seal(services.app.recorder))
            typer.echo(f"sealed {sealed} event(s) stored before the chain", err=True)
        services.catch_up()  # (the views name the episode a break concerns)
    finally:
        services.close()
    try:
        env = store_env(run_of(ctx).settings.database_url)
        outcome, name = verify(env, episode, digests)
    except (DigestFileError, EpisodeUnknownError, StoreURLError) as error:
        fail(str(error), code=2)
    broken = outcome.broken
    if as_json:
        typer.echo(json.dumps({
            "ok": broken is None, "events": outcome.events, "position": outcome.head,
            "root": outcome.root.hex(), "digests_matched": outcome.digests,
            "break": None if broken is None else {
                "kind": broken.kind, "position": broken.position, "aggregate": name,
                "version": broken.version, "detail": broken.detail,
            },
        }))  # fmt: skip
    elif broken is None and episode:
        typer.echo(f"verified {outcome.events} event(s) of episode {episode}: its chain is whole")
    elif broken is None:
        typer.echo(
            f"verified {outcome.events} event(s): the chain is whole up to position"
            f" {outcome.head} (root {outcome.root.hex()})"
            + (f"; {outcome.digests} digest(s) matched" if digests else "")
        )
    else:
        where = f"{name}, version {broken.version}, " if name else ""
        typer.echo(
            f"break: {broken.kind} at {where}log position {broken.position}: {broken.detail}"
        )
        if broken.kind == "inserted" and outcome.events == 0:
            typer.echo(
                "(no event before it is chained: a store made before the chain is sealed once,"
                " with `ehqa verify --seal`; see docs/trail.md)"
            )
    if broken is not None:
        raise typer.Exit(1)


@app.command("digest")
def digest_command(
    ctx: typer.Context,
    file: Annotated[
        Path | None,
        typer.Option(help="The JSON Lines file to append to (default: EHQA_DIGEST_FILE)."),
    ] = None,
) -> None:
    """Write a digest of the chain's head now (date, position, root hash) to the digest file."""
    from ehqa.trail import write_digest

    path = file or run_of(ctx).settings.digest_file
    if path is None:
        fail("no digest file: give --file or set EHQA_DIGEST_FILE", code=2)
    open_services(ctx).close()  # (the store is checked, migrated and the command logged)
    env = store_env(run_of(ctx).settings.database_url)
    try:
        written = write_digest(env, path, today(ctx), datetime.now(UTC))
    except (OSError, StoreURLError) as error:
        fail(str(error), code=2)
    typer.echo(f"{written.date} position {written.position} root {written.root.hex()} -> {path}")
