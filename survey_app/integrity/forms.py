"""The decision on a flagged school's group: the same form for evaluators and
supervisors, with the decisions their role may make."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from survey_app.forms import StaffForm
from survey_app.plan.audit import MAX_REASON
from survey_app.vocabulary import INTEGRITY_DECISION_LABELS


class DecisionForm(StaffForm):
    """The school and the group are the page's own (its address names them)."""

    decision = SelectField(_l("Decision"), validators=[DataRequired()])
    reason = TextAreaField(
        _l("Reason (kept in the audit log)"), validators=[DataRequired(), Length(max=MAX_REASON)]
    )

    def __init__(self, *args: Any, decisions: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # no decision chosen for the person: keeping or setting aside is made on purpose
        self.decision.choices = [SelectChoice("", _l("Choose a decision"))] + [
            SelectChoice(code, INTEGRITY_DECISION_LABELS[code]) for code in decisions
        ]
