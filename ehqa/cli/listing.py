"""What `ehqa --help` lists, without importing the areas that make the commands.

COMMANDS names every top-level command and group in the order typer lists them (each area's
commands, then its groups), the area module (ehqa.cli.NAME) whose typer app makes it, and the
first paragraph of its help (what the listing shows of it). The areas are imported only when a
command of theirs runs or is asked for; tests/unit/test_cli_listing.py checks this table against
the areas' own commands, so it cannot drift from them.
"""

from __future__ import annotations

# fmt: off
COMMANDS: tuple[tuple[str, str, str], ...] = (
    ("apply", "episodes",
        "Apply commands in order, one per line: the whole file is checked first and a bad line\n"
        "records nothing; run again, an interrupted file continues after its last applied line."),
    ("episode", "episodes",
        "Where one episode stands (or, with --as-at, stood on a business date; with --known-at,\n"
        "as the record stood at that moment)."),
    ("deadlines", "episodes",
        "Every clock of every episode (or one), with its due date and status."),
    ("timeline", "episodes",
        "The episode's events in business-date order (with --milestones, each clock's due date)."),
    ("demo", "episodes",
        "Build a small realistic caseload in the store and show where each episode stands."),
    ("lifecycle", "episodes",
        "Print the episode lifecycle as a Mermaid state diagram (drawn from the same table)."),
    ("simulate", "episodes", "Write realistic simulated histories through the real commands."),
    ("record", "record",
        "Record one step of an episode: the import format's commands, their fields as options"
        " (see `ehqa record STEP --help`). Prints where the episode then stands (--json: as JSON)."),
    ("drift", "views", "The drift board: overdue clocks (worst first), or those falling due soon."),
    ("caseload", "views",
        "Open episodes per lead professional (or agency) with their overdue and worst clocks."),
    ("projections", "views", "The read models: status, catch-up, rebuild, follow."),
    ("sweep", "alerts",
        "One sweep: raise every alert that has fallen due, and print what was raised."),
    ("deliver", "alerts",
        "Send raised alerts waiting in the outbox to the JSON-lines file and/or webhook."),
    ("alerts", "alerts", "Alerts: list them (the default) or acknowledge one."),
    ("audit", "audits", "Quality-assurance audits of episodes."),
    ("grade", "grading",
        "Grade a set of scores by a scheme's rules, without recording an audit. Unknown items,\n"
        "sections, dimensions, standards and flags are refused; flags are JSON true or false."),
    ("feedback", "reports", "Family feedback (B&NES toolkits 5 and 6)."),
    ("panel", "reports", "The Level 2 Panel (St Helens)."),
    ("claims", "reports", "Supporting Families outcomes and claims."),
    ("serve", "admin",
        "Serve the HTTP API (with view catch-up and the alert sweep running beside it)."),
    ("access-log", "admin", "Who read or recorded what, most recent first (the access log)."),
    ("migrate", "admin",
        "Bring the tables that are not views (tokens, access log, idempotency keys, deliveries) to\n"
        "this release's shape. Every start-up does this too; run it to upgrade a store on purpose,"
        " or\n"
        "to see where it stands."),
    ("policy", "admin", "Council policies: the timescales of every clock."),
    ("scheduler", "admin", "The scheduler that wakes the sweep."),
    ("tokens", "admin", "API tokens (stored hashed)."),
    ("child", "children",
        "The child's personal fields as recorded (all empty, and `erased`, once erased)."),
    ("erase", "children",
        "Erase a child's personal fields: their key is destroyed, so no copy of the fields can be\n"
        "read again; the erasure is recorded, and their episodes stay, keyed by the identifier."),
    ("retention", "children", "Retention: the children due for erasure."),
    ("export", "exports", "Exports for inspection: annex-a, ssd-early-help, chronology."),
    ("verify", "trail",
        "Walk the chains in one pass and report the first break (exit 1), naming the episode, the\n"
        "position and what kind: edited, deleted, inserted, reordered or rewritten. Exit 0 green."),
    ("digest", "trail",
        "Write a digest of the chain's head now (date, position, root hash) to the digest file."),
)
# fmt: on
