"""The staff pages' form base: Flask-WTF's, made safe for any body a client sends."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from werkzeug.datastructures import ImmutableMultiDict


class StaffForm(FlaskForm):
    """A ``FlaskForm`` that takes a JSON body only when it is an object of fields.

    Flask-WTF reads a JSON body as the form's fields; a body such as ``0`` or ``[1]``
    made it raise (a 500). Such a body is no form: it is read as an empty one, which
    fails validation like any incomplete form (the page answers 400).
    """

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form: Any, formdata: Any) -> Any:
            try:
                return super().wrap_formdata(form, formdata)
            except (TypeError, ValueError):
                return ImmutableMultiDict()
