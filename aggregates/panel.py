"""The Level 2 Panel (St Helens standards, 2022), in ehqa's own words.

Once the family has consented, a practitioner may ask the panel for advice, for services or for
direct family support. The panel answers with advice, or allocates services (each with who
provides it); an allocation comes back to the panel for review three months later.
"""

from __future__ import annotations

from enum import StrEnum


class PanelAsk(StrEnum):
    ADVICE = "advice"
    SERVICES = "services"
    FAMILY_SUPPORT = "family_support"


class PanelOutcome(StrEnum):
    ADVICE = "advice"
    SERVICES_ALLOCATED = "services_allocated"
