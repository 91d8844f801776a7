"""A response's answers packed in one short byte string (``response.answer_codes``).

The long ``answer`` table is the record, one row per item; reading a million responses
from it means tens of millions of rows, which no loader turns into arrays in seconds.
So each response also carries its answers as one byte per item of its questionnaire
version, in the version's item order, ``NOT_ASKED`` for an item the respondent's group
is not shown: a campaign is then one narrow column, read straight into a
respondents × items matrix (``results/loader.py``). Answer codes are small (0 = 不了解,
then the scale's options); a version with a code that does not fit a byte has no packed
form (``None``), and the loader reads its answers from the long table instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

NOT_ASKED = 255
LARGEST_CODE = NOT_ASKED - 1


def pack(item_ids: Sequence[str], answers: Mapping[str, int]) -> bytes | None:
    """The answers in ``item_ids``' order (every item of the version), or ``None`` when
    a code does not fit in a byte."""
    if any(not 0 <= code <= LARGEST_CODE for code in answers.values()):
        return None
    return bytes(answers.get(item_id, NOT_ASKED) for item_id in item_ids)
