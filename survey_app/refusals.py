"""Refusals named by a code: one shape for the services whose pages translate the reason
(``plan/messages.py``, ``integrity/messages.py``) and whose command lines print it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class Refusal(Exception):
    """Refused for ``code`` (a key of the subclass's ``REASONS``: code → English text,
    the command line's) with ``params`` filling the text; pages translate by code."""

    REASONS: ClassVar[Mapping[str, str]] = {}
    CONFLICTS: ClassVar[frozenset[str]] = frozenset()  # refused for the campaign's state

    def __init__(self, code: str, **params: object) -> None:
        self.code = code
        self.params = params
        super().__init__(self.REASONS[code] % params)

    @property
    def conflict(self) -> bool:
        """Refused for the state of the campaign (409), not for what was asked (422)."""
        return self.code in self.CONFLICTS
