"""The import format: one JSON command per line, parsed into typed commands and applied.

Each command model checks the shape of its line (names the field that is wrong); the rules of
the process are the domain's, reached through one application call per command. The same models
give the HTTP API's request bodies and the options of `ehqa record`.

- `base`: what every command shares (`_Command`: `episode`, `on`) and the lead (`Lead`);
- `episode`: the lifecycle steps (`Open` ... `Close`);
- `family`: feedback, the Level 2 Panel and Supporting Families;
- `parsing`: the union of them all (`COMMAND`, `COMMAND_NAMES`, `MODELS`) and `parse_line`.
"""

from ehqa.commands.base import Lead, _Command
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
    AllocatedService,
    RecordFeedback,
    RecordNeeds,
    RecordOutcomes,
    RecordPanelOutcome,
    RecordPanelReview,
    RecordSustainedCheck,
    RequestPanel,
)
from ehqa.commands.parsing import (
    COMMAND,
    COMMAND_NAMES,
    MODELS,
    Command,
    LineError,
    _fields,
    parse_line,
)

__all__ = [
    "COMMAND",
    "COMMAND_NAMES",
    "MODELS",
    "AgreeSingleAgencyPlan",
    "AllocatedService",
    "ChangeLead",
    "CirculatePlan",
    "Close",
    "Command",
    "CompleteGcp2",
    "DecideFam",
    "FinaliseAssessment",
    "HoldFam",
    "HoldReview",
    "Lead",
    "LineError",
    "Open",
    "RecordConsent",
    "RecordException",
    "RecordFeedback",
    "RecordMashOutcome",
    "RecordNeeds",
    "RecordOutcomes",
    "RecordPanelOutcome",
    "RecordPanelReview",
    "RecordSustainedCheck",
    "RequestPanel",
    "SeeChild",
    "StartGcp2",
    "StepUp",
    "WithdrawConsent",
    "WithholdConsent",
    "_Command",
    "_fields",
    "parse_line",
]
