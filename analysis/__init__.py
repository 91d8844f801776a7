"""Design-based survey estimation that agrees with R's ``survey`` package.

Pure numpy/scipy: designs (``svydesign``), Taylor-linearised means, proportions and
ratios over domains (``svymean``, ``svyratio``, ``svyby``) and proportion intervals
(``svyciprop``). No web app, no database.
"""

from analysis.design import (
    LONELY_PSU_OPTIONS,
    PPS,
    PPS_OPTIONS,
    Calibration,
    LonelyPSU,
    LonelyPSUError,
    SurveyDesign,
)
from analysis.design_caveats import DesignCaveat
from analysis.estimators import (
    Estimate,
    EstimateTable,
    by,
    domain_codes,
    mean,
    mean_many,
    ratio,
    ratio_many,
)
from analysis.intervals import (
    CI_METHODS,
    CIMethod,
    ProportionInterval,
    ciprop,
    ciprop_by,
    interval_and_p_value,
    interval_arrays,
    proportion_interval,
)

__all__ = [
    "CI_METHODS",
    "LONELY_PSU_OPTIONS",
    "PPS",
    "PPS_OPTIONS",
    "CIMethod",
    "Calibration",
    "DesignCaveat",
    "Estimate",
    "EstimateTable",
    "LonelyPSU",
    "LonelyPSUError",
    "ProportionInterval",
    "SurveyDesign",
    "by",
    "ciprop",
    "ciprop_by",
    "domain_codes",
    "interval_and_p_value",
    "interval_arrays",
    "mean",
    "mean_many",
    "proportion_interval",
    "ratio",
    "ratio_many",
]
