import math

from survey_app.codes import (
    ALPHABET,
    CODE_LENGTH,
    code_digest,
    format_code,
    new_code,
    normalise_code,
)


def test_code_carries_at_least_64_bits():
    assert len(set(ALPHABET)) == 32
    assert CODE_LENGTH * math.log2(len(ALPHABET)) >= 64


def test_codes_are_grouped_and_avoid_ambiguous_letters():
    code = new_code()
    groups = code.split("-")
    assert [len(g) for g in groups] == [5, 5, 5]
    assert not set(code) & set("ILOU")


def test_new_codes_differ():
    assert len({new_code() for _ in range(2000)}) == 2000


def test_typing_is_forgiving():
    canonical = normalise_code(new_code())
    assert canonical is not None
    typed = format_code(canonical).lower().replace("-", " ")
    assert normalise_code(typed) == canonical
    assert normalise_code("OIL" + canonical[3:]) == "011" + canonical[3:]


def test_malformed_codes_are_rejected():
    assert normalise_code("") is None
    assert normalise_code("ABC") is None
    assert normalise_code("!" * 15) is None
    assert normalise_code("A" * 16) is None


def test_digest_is_stable_and_not_the_code():
    canonical = normalise_code(new_code())
    assert code_digest(canonical) == code_digest(canonical)
    assert canonical.encode() not in code_digest(canonical)
