"""The audit log in the staff's language: what each action is called, and its details
as a supervisor reads them (groups, strata, stages and decisions by their names).

The log itself keeps codes (``schools_drawn``, ``{"group": "parent"}``): they are what
scripts and the command line read, and what the page shows beside each name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey_app.models import AuditEvent
from survey_app.vocabulary import (
    GROUP_LABELS,
    INTEGRITY_DECISION_LABELS,
    ROLE_LABELS,
    STAGE_LABELS,
    stratum_label,
)

ACTION_LABELS = {
    "campaign_created": _l("Campaign created"),
    "campaign_changed": _l("Campaign settings changed"),
    "frame_imported": _l("School frame imported"),
    "schools_drawn": _l("Schools drawn"),
    "list_set": _l("List set"),
    "open_link_created": _l("Open link created"),
    "open_link_closed": _l("Open link closed"),
    "codes_issued": _l("Codes issued"),
    "code_revoked": _l("Code revoked"),
    "codes_revoked": _l("Unused codes revoked"),
    "fieldwork_opened": _l("Fieldwork opened"),
    "fieldwork_closed": _l("Fieldwork closed"),
    "closing_moved": _l("Last day of fieldwork moved"),
    "school_replaced": _l("School replaced"),
    "population_corrected": _l("Population corrected"),
    "integrity_decision": _l("Data quality decision"),
    "data_exported": _l("Data exported"),
    "report_issued": _l("Report issued"),
    "report_downloaded": _l("Report downloaded"),
    "access_granted": _l("Access granted"),
    "access_withdrawn": _l("Access withdrawn"),
    "role_changed": _l("Role changed"),
}

DETAIL_LABELS = {
    "account": _l("Account"),
    "area": _l("Area"),
    "bytes": _l("Bytes"),
    "closes": _l("Last day"),
    "codes": _l("Codes"),
    "codes_revoked": _l("Codes revoked"),
    "county_code": _l("County code"),
    "county_name": _l("County name"),
    "decision": _l("Decision"),
    "file": _l("File"),
    "format": _l("Format"),
    "group": _l("Group"),
    "ids": _l("With member ids"),
    "list_members": _l("List members drawn"),
    "list_size": _l("List size"),
    "new": _l("New"),
    "opens": _l("First day of fieldwork"),
    "policy_weights": _l("Policy weights"),
    "old": _l("Old"),
    "planned": _l("Planned"),
    "population": _l("Population"),
    "previous": _l("Previous"),
    "previous_role": _l("Previous role"),
    "quota": _l("Quota"),
    "replaced": _l("Schools replaced"),
    "report": _l("Report"),
    "resident_population": _l("Resident population"),
    "respondents_per_school": _l("Respondents per school"),
    "responses": _l("Responses"),
    "role": _l("Role"),
    "school": _l("School"),
    "schools": _l("Schools"),
    "schools_per_stratum": _l("Schools per stratum"),
    "seed": _l("Seed"),
    "selected": _l("Schools selected"),
    "sha256": "SHA-256",
    "stage": _l("Stage"),
    "strata": _l("Strata"),
    "substitute": _l("Substitute"),
    "threshold": _l("Threshold"),
    "verdict_rule": _l("Verdict"),
}


def _labelled(labels: Mapping[str, Any]) -> Callable[[Any], str]:
    return lambda code: str(labels.get(str(code), code))


def _counts(name_of: Callable[[Any], str]) -> Callable[[Any], str]:
    """A mapping of codes to numbers, each code by its name: 家长 30, 学生 30."""
    return lambda counts: ", ".join(f"{name_of(code)} {n}" for code, n in counts.items())


_VALUES: dict[str, Callable[[Any], str]] = {
    "group": _labelled(GROUP_LABELS),
    "role": _labelled(ROLE_LABELS),
    "previous_role": _labelled(ROLE_LABELS),
    "stage": _labelled(STAGE_LABELS),
    "decision": _labelled(INTEGRITY_DECISION_LABELS),
    "area": lambda code: stratum_label(str(code)),
    "schools_per_stratum": _counts(lambda code: stratum_label(str(code))),
    "respondents_per_school": _counts(_labelled(GROUP_LABELS)),
    "list_members": _counts(_labelled(GROUP_LABELS)),
    "policy_weights": _counts(_labelled(GROUP_LABELS)),
    "sha256": lambda digest: f"{str(digest)[:16]}…",
}


@dataclass(frozen=True)
class Detail:
    code: str  # the key as the log keeps it
    label: str
    text: str


def action_label(event: AuditEvent) -> str:
    """The action's name, or its code for an action this page does not know."""
    return str(ACTION_LABELS.get(event.action, event.action))


def details(event: AuditEvent) -> list[Detail]:
    """The event's details in the staff's language (an empty mapping shows nothing)."""
    found = event.details if isinstance(event.details, dict) else {}
    return [
        Detail(str(key), str(DETAIL_LABELS.get(key, key)), _value(str(key), value))
        for key, value in found.items()
    ]


def _value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if value is None:
        return "—"
    convert = _VALUES.get(key)
    if convert is None:
        return str(value)
    try:
        return convert(value)
    except (AttributeError, TypeError):  # a value of another shape: as it is
        return str(value)
