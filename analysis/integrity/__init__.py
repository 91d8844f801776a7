"""Survey integrity: find the coached and fabricated schools before they decide a verdict.

For each (school, group) cell with enough responses, against the other schools of the
same stratum and group and against what independent respondents would give:

* ``template_copying``: identical answer vectors beyond a conditional Rasch reference
  built on the cell's own item margins (:mod:`.copying`), or complete all-top vectors
  (满意 to every item) beyond what the cell's other respondents predict
  (:mod:`.top_excess`);
* ``erased_dissatisfaction``: too few answers below 比较满意 for what each respondent's
  other answers predict (:mod:`.erasure`);
* ``proxy_filling``: bursts of speeding responses (:mod:`.timing`);
* ``many_flagged_responses``: more speeding responses than the stratum's other schools
  give (:mod:`.timing`).

Per response: ``speeding``, ``straight_lining``, ``low_variation``
(:mod:`.response_flags`); they mark responses, not schools.

Every test has an analytic reference distribution (no Monte Carlo: reproducible, and
its tail reaches the small p-values that a false-discovery control over hundreds of
cells needs); a cell's four p-values are combined by Bonferroni and the
Benjamini–Hochberg procedure runs over all examined cells of all blocks.  Calibration
by simulation: ``bench/integrity.py`` and :mod:`.simulation`.
"""

from analysis.integrity.blocks import (
    DONT_KNOW,
    READING_SECONDS_PER_ITEM,
    UNANSWERED,
    IntegritySettings,
    ResponseBlock,
)
from analysis.integrity.examine import examine
from analysis.integrity.explanation import explain
from analysis.integrity.findings import (
    CELL_REASONS,
    ERASED_DISSATISFACTION,
    LOW_VARIATION,
    MANY_FLAGGED_RESPONSES,
    PROXY_FILLING,
    RESPONSE_FLAGS,
    SPEEDING,
    STRAIGHT_LINING,
    TEMPLATE_COPYING,
    CellFinding,
    IntegrityReport,
    ResponseFlag,
)
from analysis.integrity.layout import InconsistentStratum
from analysis.integrity.multiplicity import benjamini_hochberg

__all__ = [
    "CELL_REASONS",
    "DONT_KNOW",
    "ERASED_DISSATISFACTION",
    "LOW_VARIATION",
    "MANY_FLAGGED_RESPONSES",
    "PROXY_FILLING",
    "READING_SECONDS_PER_ITEM",
    "RESPONSE_FLAGS",
    "SPEEDING",
    "STRAIGHT_LINING",
    "TEMPLATE_COPYING",
    "UNANSWERED",
    "CellFinding",
    "InconsistentStratum",
    "IntegrityReport",
    "IntegritySettings",
    "ResponseBlock",
    "ResponseFlag",
    "benjamini_hochberg",
    "examine",
    "explain",
]
