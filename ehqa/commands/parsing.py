"""One JSON line into its typed command: the union of every command, discriminated by `cmd`."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, get_args

from pydantic import Field, TypeAdapter, ValidationError

from ehqa.commands.base import _Command
from ehqa.commands.child import RecordChildDetails
from ehqa.commands.episode import (
    AgreeSingleAgencyPlan,
    ChangeLead,
    CirculatePlan,
    Close,
    CompleteGcp2,
    DecideFam,
    FinaliseAssessment,
    HoldFam,
    HoldReview,
    Open,
    RecordConsent,
    RecordException,
    RecordMashOutcome,
    SeeChild,
    StartGcp2,
    StepUp,
    WithdrawConsent,
    WithholdConsent,
)
from ehqa.commands.family import (
    RecordFeedback,
    RecordNeeds,
    RecordOutcomes,
    RecordPanelOutcome,
    RecordPanelReview,
    RecordSustainedCheck,
    RequestPanel,
)

# An episode's command (one per import `cmd`), then a line of the import: an episode's command,
# or the child's record (keyed by the child).
EpisodeCommand = (
    Open
    | RecordConsent
    | WithholdConsent
    | WithdrawConsent
    | FinaliseAssessment
    | DecideFam
    | HoldFam
    | AgreeSingleAgencyPlan
    | CirculatePlan
    | HoldReview
    | SeeChild
    | ChangeLead
    | StartGcp2
    | CompleteGcp2
    | RecordException
    | StepUp
    | RecordMashOutcome
    | Close
    | RecordFeedback
    | RequestPanel
    | RecordPanelOutcome
    | RecordPanelReview
    | RecordNeeds
    | RecordOutcomes
    | RecordSustainedCheck
)
Command = Annotated[EpisodeCommand, Field(discriminator="cmd")]
Line = Annotated[EpisodeCommand | RecordChildDetails, Field(discriminator="cmd")]
COMMAND = TypeAdapter[Any](Line)
AnyCommand = _Command | RecordChildDetails
COMMAND_NAMES = sorted(COMMAND.json_schema()["discriminator"]["mapping"])


class LineError(ValueError):
    """A line of the import file that cannot be read as a command."""


SURROGATE = re.compile("[\udc80-\udcff]")


def parse_line(text: str) -> AnyCommand:
    # (the import file is decoded with errors="surrogateescape": a byte that is not UTF-8 arrives
    # as a surrogate U+DC80-U+DCFF, and JSON escapes can make surrogates too)
    found = SURROGATE.search(text)
    if found is not None:
        raw = found.start()
        byte = ord(text[raw]) - 0xDC00
        raise LineError(f"not valid UTF-8 (byte 0x{byte:02X} at column {raw + 1})")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LineError(f"not valid JSON ({error.msg} at column {error.colno})") from None
    except RecursionError:
        raise LineError("not valid JSON (nested too deeply)") from None
    except ValueError as error:  # e.g. a number too long to read
        raise LineError(f"not valid JSON ({str(error)[:200]})") from None
    if not isinstance(data, dict):
        raise LineError("a command is a JSON object with cmd, episode and on")
    if "cmd" not in data:
        raise LineError("field 'cmd': missing (one of " + ", ".join(COMMAND_NAMES) + ")")
    if data["cmd"] not in COMMAND_NAMES:
        raise LineError(
            f"field 'cmd': unknown command {data['cmd']!r} (one of {', '.join(COMMAND_NAMES)})"
        )
    try:
        command: AnyCommand = COMMAND.validate_python(data)
    except ValidationError as error:
        raise LineError(_fields(error, data["cmd"])) from None
    return command


def _fields(error: ValidationError, cmd: str) -> str:
    # Drop the discriminator's own prefix ("open.lead.agency" reads better as "lead.agency").
    # (each problem on its own: a message may itself hold "; ")
    return "; ".join(
        "field '"
        + (".".join(str(p) for p in problem["loc"]) or "(document)").removeprefix(f"{cmd}.")
        + "': "
        + problem["msg"]
        for problem in error.errors()
    )


def _cmd(model: type[_Command]) -> str:
    (name,) = get_args(model.model_fields["cmd"].annotation)
    return str(name)


# Every episode command model by its `cmd`, in the order of the union (for entry points generated
# from the models, such as `ehqa record`; the child's record has entry points of its own).
MODELS: dict[str, type[_Command]] = {_cmd(model): model for model in get_args(get_args(Command)[0])}
