# Redo a campaign's group rates and county score with R's survey package:
#   Rscript tests/reference/check_results.R ROWS.csv WEIGHTS.json
# ROWS.csv: one row per response as the platform's loader weighs it (group, stratum,
# psu, w, pi = the PSU's first-stage inclusion probability, f2 = the second-stage
# sampling fraction m/M, rec = recognised answers, ans = answered items, 不了解 left out).
# WEIGHTS.json: the policy weights {group: a_g}. The design is the platform's: PPS
# without replacement (Brewer) with the respondents as the second stage,
# svydesign(ids = ~psu + resp, fpc = ~pi + f2, pps = "brewer"). Prints JSON: per group
# the ratio estimate and SE (domains of the whole design), and the county score
# sum(a_g p_g) with its SE from the joint covariance (svycontrast).
suppressMessages(library(survey))
library(jsonlite)
options(survey.lonely.psu = "adjust")
args <- commandArgs(trailingOnly = TRUE)
rows <- read.csv(args[1], colClasses = c(psu = "character", stratum = "character"))
weights <- fromJSON(args[2])

# svyby(covmat = TRUE) fails on PPS designs in survey 4.1: the groups' joint covariance
# is svyratio(covmat = TRUE) of per-group numerators and denominators (0 outside the
# group), and the group rates are its diagonal ratios.
groups <- sort(unique(rows$group))
for (g in groups) {
  rows[[paste0("rec_", g)]] <- rows$rec * (rows$group == g)
  rows[[paste0("ans_", g)]] <- rows$ans * (rows$group == g)
}
# R pairs each unit with its pi and f2 by row order: rows in R's own order of stratum
# and PSU, respondents numbered in that order with a fixed width.
rows$psu <- factor(rows$psu)
rows <- rows[order(rows$stratum, rows$psu), ]
rows$resp <- formatC(seq_len(nrow(rows)), width = nchar(nrow(rows)), flag = "0")
# An open link's pi of 1e-300 (no fpc) implies a "population larger than ten billion":
# that warning is expected; any other is not.
design <- withCallingHandlers(
  svydesign(ids = ~psu + resp, strata = ~stratum, weights = ~w, fpc = ~pi + f2,
            pps = "brewer", data = rows),
  warning = function(w) {
    if (grepl("population larger than ten billion", conditionMessage(w))) {
      invokeRestart("muffleWarning")
    }
  }
)
ratios <- svyratio(reformulate(paste0("rec_", groups)), reformulate(paste0("ans_", groups)),
                   design, covmat = TRUE)
diagonal <- (seq_along(groups) - 1) * length(groups) + seq_along(groups)
rate <- as.vector(coef(ratios))[diagonal]
rate_se <- sqrt(diag(as.matrix(vcov(ratios)))[diagonal])
a <- numeric(length(groups)^2)
a[diagonal] <- vapply(groups, function(g) if (is.null(weights[[g]])) 0 else weights[[g]],
                      numeric(1))
county <- svycontrast(ratios, a)
out <- list(
  groups = setNames(lapply(seq_along(groups), function(i) list(
    estimate = rate[i], se = rate_se[i])), groups),
  county = list(estimate = as.numeric(coef(county)), se = as.numeric(SE(county)))
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
