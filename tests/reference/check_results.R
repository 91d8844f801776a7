# Redo a campaign's group rates and county score with R's survey package:
#   Rscript tests/reference/check_results.R ROWS.csv WEIGHTS.json
# ROWS.csv: one row per response as the platform's loader weighs it (group, stratum,
# psu, w, fpc, rec = recognised answers, ans = answered items, 不了解 left out).
# WEIGHTS.json: the policy weights {group: a_g}. Prints JSON: per group the ratio
# estimate and SE (svyby over the whole design, as domains), and the county score
# sum(a_g p_g) with its SE from the joint covariance (svycontrast).
suppressMessages(library(survey))
library(jsonlite)
options(survey.lonely.psu = "adjust")
args <- commandArgs(trailingOnly = TRUE)
rows <- read.csv(args[1], colClasses = c(psu = "character", stratum = "character"))
weights <- fromJSON(args[2])
design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, fpc = ~fpc, data = rows)
by_group <- svyby(~rec, ~group, design, svyratio, denominator = ~ans, covmat = TRUE)
groups <- as.character(by_group$group)
a <- vapply(groups, function(g) if (is.null(weights[[g]])) 0 else weights[[g]], numeric(1))
county <- svycontrast(by_group, a)
out <- list(
  groups = setNames(lapply(seq_along(groups), function(i) list(
    estimate = unname(coef(by_group)[i]), se = unname(SE(by_group)[i]))), groups),
  county = list(estimate = as.numeric(coef(county)), se = as.numeric(SE(county)))
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
