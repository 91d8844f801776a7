"""Answers packed one byte per item: the layout the loader reads."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from survey_app.answer_codes import LARGEST_CODE, NOT_ASKED, pack

ITEMS = ("q01", "q02", "q03", "q04")


def test_items_not_answered_are_marked_not_asked_in_the_versions_order():
    assert pack(ITEMS, {"q03": 0, "q01": 4}) == bytes([4, NOT_ASKED, 0, NOT_ASKED])


def test_a_code_that_does_not_fit_a_byte_has_no_packed_form():
    assert pack(ITEMS, {"q01": LARGEST_CODE}) is not None
    assert pack(ITEMS, {"q01": NOT_ASKED}) is None
    assert pack(ITEMS, {"q01": 1000}) is None
    assert pack(ITEMS, {"q01": -1}) is None


@given(st.dictionaries(st.sampled_from(ITEMS), st.integers(0, LARGEST_CODE)))
def test_packing_keeps_every_answer(answers):
    packed = pack(ITEMS, answers)
    assert packed is not None
    assert len(packed) == len(ITEMS)
    assert {i: c for i, c in zip(ITEMS, packed, strict=True) if c != NOT_ASKED} == answers
