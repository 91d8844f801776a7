"""The data model, split by aggregate; import from here."""

from survey_app.models.base import Base
from survey_app.models.campaign import Campaign, GroupPopulation, Stratum
from survey_app.models.code import OneTimeCode
from survey_app.models.frame import School
from survey_app.models.response import Answer, Response

__all__ = [
    "Answer",
    "Base",
    "Campaign",
    "GroupPopulation",
    "OneTimeCode",
    "Response",
    "School",
    "Stratum",
]
