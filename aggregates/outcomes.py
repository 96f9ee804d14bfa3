"""The ten headline outcomes of the national Supporting Families framework, as short codes."""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    EDUCATION = "education"  # getting a good education
    EARLY_YEARS = "early_years"  # good early years development
    HEALTH = "health"  # improved mental and physical health
    SUBSTANCE_USE = "substance_use"  # recovery from and less harm by substance use
    RELATIONSHIPS = "relationships"  # improved family relationships
    SAFE_FROM_ABUSE = "safe_from_abuse"  # children safe from abuse and exploitation
    CRIME = "crime"  # crime prevention and tackling crime
    DOMESTIC_ABUSE = "domestic_abuse"  # safe from domestic abuse
    HOUSING = "housing"  # secure housing
    FINANCES = "finances"  # financial stability
