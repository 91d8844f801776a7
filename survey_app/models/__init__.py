"""The data model, split by aggregate; import from here."""

from survey_app.models.audit import AuditEvent
from survey_app.models.base import Base
from survey_app.models.campaign import Campaign, GroupPopulation, Stratum
from survey_app.models.code import OneTimeCode
from survey_app.models.frame import School
from survey_app.models.integrity import IntegrityDecision
from survey_app.models.outreach import ListFrame, OpenLink
from survey_app.models.plan import PlanQuota, PlanSchool, PlanStratum, SamplingPlan
from survey_app.models.report import CertificationReport
from survey_app.models.response import Answer, Response
from survey_app.models.user import CampaignAccess, User

__all__ = [
    "Answer",
    "AuditEvent",
    "Base",
    "Campaign",
    "CampaignAccess",
    "CertificationReport",
    "GroupPopulation",
    "IntegrityDecision",
    "ListFrame",
    "OneTimeCode",
    "OpenLink",
    "PlanQuota",
    "PlanSchool",
    "PlanStratum",
    "Response",
    "SamplingPlan",
    "School",
    "Stratum",
    "User",
]
