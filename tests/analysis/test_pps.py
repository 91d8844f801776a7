"""PPS draws against R's sampling package (tests/reference/sampling_reference.R and its
committed output): the inclusion probabilities of ``inclusionprobabilities`` and the
samples of ``UPsystematic`` for the random start R drew."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from analysis.pps import inclusion_probabilities, stratum_start, systematic_sample

REFERENCE = json.loads(
    (Path(__file__).resolve().parents[1] / "reference" / "sampling_reference.json").read_text()
)
FRAMES = {frame["name"]: frame for frame in REFERENCE["frames"]}


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_inclusion_probabilities_as_r(name):
    frame = FRAMES[name]
    pik = inclusion_probabilities(frame["size"], frame["n"])
    np.testing.assert_allclose(pik, frame["pik"], rtol=1e-13, atol=1e-15)
    assert pik.sum() == pytest.approx(frame["n"], abs=1e-12)


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_systematic_draws_as_r(name):
    frame = FRAMES[name]
    pik = inclusion_probabilities(frame["size"], frame["n"])
    for draw in frame["draws"]:
        selected = systematic_sample(pik, draw["u"])
        assert selected.astype(int).tolist() == draw["selected"], (name, draw["seed"])
        assert selected.sum() == frame["n"]


def test_certainties_and_empty_schools():
    pik = np.asarray(FRAMES["two-rounds"]["pik"])
    assert pik[:2].tolist() == [1.0, 1.0]  # the second only after the first was set aside
    zero = inclusion_probabilities(FRAMES["zero-size"]["size"], 2)
    assert zero[0] == 0
    assert not systematic_sample(zero, 0.999).tolist()[0]


def test_the_random_start_follows_the_seed_and_the_stratum():
    u = stratum_start(20261202, "rural-primary")
    assert u == stratum_start(20261202, "rural-primary")  # same seed, same start
    assert 0 <= u < 1
    assert u != stratum_start(20261202, "town-primary")
    assert u != stratum_start(20261203, "rural-primary")
    # The derivation is part of every recorded plan: a change would redraw them all.
    assert stratum_start(1, "rural-primary") == 0.13139078976260288


def test_impossible_draws():
    with pytest.raises(ValueError, match="cannot draw 3 of 2"):
        inclusion_probabilities([0, 5, 7], 3)
    with pytest.raises(ValueError, match="random start"):
        systematic_sample([0.5, 0.5], 1.0)
