# Reference numbers for a PPS-without-replacement first stage (R's pps = "brewer").
#
# Run from the repository root:
#   Rscript tests/reference/pps_reference.R
# It writes tests/reference/pps_county.csv (a simulated county: schools drawn with
# sampling::UPsystematic on sampling::inclusionprobabilities, respondents drawn within
# schools by group) and tests/reference/pps_reference.json (every number the tests
# compare to).
#
# Designs (survey 4.1):
#   brewer1: svydesign(ids = ~school, strata = ~stratum, weights = ~w, fpc = ~pi,
#                      pps = "brewer")                      -- the platform's design
#   brewer2: svydesign(ids = ~school + resp, strata = ~stratum, weights = ~w,
#                      fpc = ~pi + f2, pps = "brewer")      -- with the second stage
#   wr:      svydesign(ids = ~school, strata = ~stratum, weights = ~w)
#                                                           -- with-replacement approximation
# fpc holds each school's inclusion probability pi (R: "fpc must be specified as
# sampling fraction for PPS sampling"), f2 each respondent's sampling fraction within
# the school (m/M of the group).  The county has a certainty school (pi = 1) beside
# drawn schools in stratum town-middle, a stratum that is a single certainty school
# (special) and deputies drawn from their own list (list-deputy, pi = n/N, f2 = 1).
#
# R pairs each school's pi with the school by row order (onestrat takes the scales in
# order of first appearance but sums the PSUs in sorted order), so the rows are written
# sorted by stratum, school and respondent, with ids whose text order is their numeric
# order; analysis/ pairs them by id and does not depend on row order.
suppressMessages(library(survey))
suppressMessages(library(sampling))
suppressMessages(library(jsonlite))
options(survey.lonely.psu = "fail")

set.seed(20261130)
strata <- list(
  list(name = "city-middle", N = 9, n = 3, big = FALSE),
  list(name = "city-primary", N = 14, n = 4, big = FALSE),
  list(name = "rural-primary", N = 30, n = 5, big = FALSE),
  list(name = "town-middle", N = 8, n = 3, big = TRUE),
  list(name = "town-primary", N = 16, n = 4, big = FALSE)
)
groups <- c("parent", "student", "teacher")
per_school <- c(parent = 12, student = 8, teacher = 4)
group_logit <- c(parent = 1.7, student = 2.1, teacher = 1.4)
items <- paste0("y", 1:4)
rows <- list()
frames <- list()
resp_id <- 100000
add_school <- function(stratum, school, pi, size, h_effect) {
  effect <- rnorm(1, 0, 0.5) + h_effect
  out <- list()
  for (g in groups) {
    M <- max(per_school[[g]], round(size * c(parent = 0.9, student = 0.9, teacher = 0.07)[[g]]))
    m <- min(M, max(2, rpois(1, per_school[[g]])))
    eta <- group_logit[[g]] + effect + rnorm(m, 0, 0.4)
    y <- sapply(seq_along(items), function(k) rbinom(m, 1, plogis(eta + (k - 2) * 0.15)))
    y <- matrix(y, nrow = m)
    y[matrix(runif(m * length(items)) < 0.07, nrow = m)] <- NA  # don't know
    ids <- resp_id + seq_len(m)
    resp_id <<- resp_id + m
    out[[g]] <- data.frame(stratum = stratum, school = school, resp = ids, group = g,
                           pi = pi, f2 = m / M, w = (1 / pi) * (M / m), y)
  }
  do.call(rbind, out)
}
for (h in seq_along(strata)) {
  s <- strata[[h]]
  size <- round(exp(rnorm(s$N, log(400), 0.6)))
  if (s$big) size[2] <- 6000  # a certainty school
  pik <- inclusionprobabilities(size, s$n)
  drawn <- which(UPsystematic(pik) == 1)
  frames[[s$name]] <- list(size = size, pik = pik, drawn = drawn)
  h_effect <- rnorm(1, 0, 0.3)
  for (k in drawn) {
    rows[[length(rows) + 1]] <- add_school(s$name, h * 100 + k, pik[k], size[k], h_effect)
  }
}
# a stratum that is one school, taken with certainty
rows[[length(rows) + 1]] <- add_school("special", 900, 1, 150, 0)
# deputies from their list: each one a school-level unit of its own stratum
N_dep <- 120
n_dep <- 20
m <- n_dep
y <- matrix(rbinom(m * length(items), 1, plogis(1.9)), nrow = m)
y[matrix(runif(m * length(items)) < 0.07, nrow = m)] <- NA
rows[[length(rows) + 1]] <- data.frame(stratum = "list-deputy", school = 9000 + seq_len(m),
  resp = resp_id + seq_len(m), group = "deputy", pi = n_dep / N_dep, f2 = 1,
  w = N_dep / n_dep, y)
county <- do.call(rbind, rows)
names(county)[8:11] <- items
county <- county[order(county$stratum, county$school, county$resp), ]
county$rec <- rowSums(county[, items], na.rm = TRUE)
county$ans <- rowSums(!is.na(county[, items]))
write.csv(county, "tests/reference/pps_county.csv", row.names = FALSE, na = "")
# read back what Python reads, so both sides see identical numbers
county <- read.csv("tests/reference/pps_county.csv")
stopifnot(any(county$pi == 1 & county$stratum == "town-middle"))
stopifnot(any(county$pi < 1 & county$stratum == "town-middle"))

designs <- list(
  brewer1 = svydesign(ids = ~school, strata = ~stratum, weights = ~w, fpc = ~pi,
                      pps = "brewer", data = county),
  brewer2 = svydesign(ids = ~school + resp, strata = ~stratum, weights = ~w, fpc = ~pi + f2,
                      pps = "brewer", data = county),
  wr = svydesign(ids = ~school, strata = ~stratum, weights = ~w, data = county)
)

# The with-replacement approximation ignores pi, so the stratum that is a single
# (certainty) school is a lonely PSU there: survey.lonely.psu = "certainty" for wr.
lonely <- c(brewer1 = "fail", brewer2 = "fail", wr = "certainty")
num <- function(x) { x <- as.numeric(x); ifelse(is.finite(x), x, NA) }
# svyby(..., covmat = TRUE) fails on PPS designs in survey 4.1 (subset keeps every row),
# so the joint covariance of the group estimates is svyratio(covmat = TRUE) of the
# groups' indicator totals on the whole design; its diagonal equals svyby's SE^2.
group_covmat <- function(des, numer, denom) {
  lev <- sort(unique(des$variables$group))
  vars <- des$variables
  for (g in lev) {
    ok <- vars$group == g & !is.na(vars[[numer]]) & !is.na(vars[[denom]])
    vars[[paste0("n_", g)]] <- ifelse(ok, vars[[numer]], 0)
    vars[[paste0("d_", g)]] <- ifelse(ok, vars[[denom]], 0)
  }
  des$variables <- vars
  r <- svyratio(as.formula(paste0("~", paste0("n_", lev, collapse = "+"))),
                as.formula(paste0("~", paste0("d_", lev, collapse = "+"))), des, covmat = TRUE)
  pick <- (seq_along(lev) - 1) * length(lev) + seq_along(lev)
  list(domains = lev, estimate = as.vector(coef(r))[pick], vcov = unname(vcov(r)[pick, pick]))
}
answered_in <- function(des, v) subset(des, !is.na(des$variables[[v]]))

# ---- svymean with deff, overall and by group (svyby, covmat) -------------------------
means <- list()
covmats <- list()
for (dn in names(designs)) {
  options(survey.lonely.psu = lonely[[dn]])
  for (v in c(items, "rec")) {
    f <- as.formula(paste0("~", v))
    ans <- answered_in(designs[[dn]], v)
    m <- svymean(f, designs[[dn]], na.rm = TRUE, deff = TRUE)
    means[[length(means) + 1]] <- list(design = dn, variable = v, domain = NULL,
      estimate = num(coef(m)), se = num(SE(m)), deff = num(deff(m)), df = degf(ans),
      n = sum(!is.na(county[[v]])))
    b <- svyby(f, ~group, ans, svymean, deff = TRUE, na.rm = TRUE)
    for (i in seq_len(nrow(b))) {
      lev <- as.character(b$group[i])
      dom <- subset(ans, group == lev)
      means[[length(means) + 1]] <- list(design = dn, variable = v, domain = lev,
        estimate = num(coef(b)[i]), se = num(SE(b)[i]), deff = num(deff(b)[i]),
        df = degf(dom), n = sum(!is.na(county[[v]]) & county$group == lev))
    }
    cm <- group_covmat(update(designs[[dn]], one = 1), v, "one")
    stopifnot(all.equal(cm$estimate, as.vector(coef(b)), tolerance = 1e-12),
              all.equal(sqrt(diag(cm$vcov)), as.vector(SE(b)), tolerance = 1e-12))
    covmats[[length(covmats) + 1]] <- list(design = dn, variable = v,
      domains = cm$domains, vcov = cm$vcov)
  }
}

# ---- svyratio: recognised over answered items, overall and by group -------------------
ratios <- list()
for (dn in names(designs)) {
  options(survey.lonely.psu = lonely[[dn]])
  des <- designs[[dn]]
  r <- svyratio(~rec, ~ans, des, deff = TRUE)
  ratios[[length(ratios) + 1]] <- list(design = dn, domain = NULL, estimate = num(coef(r)),
    se = num(SE(r)), deff = num(attr(r, "deff")), df = degf(des))
  b <- svyby(~rec, ~group, des, svyratio, denominator = ~ans, deff = TRUE)
  for (i in seq_len(nrow(b))) {
    lev <- as.character(b$group[i])
    ratios[[length(ratios) + 1]] <- list(design = dn, domain = lev,
      estimate = num(coef(b)[i]), se = num(SE(b)[i]), deff = num(deff(b)[i]),
      df = degf(subset(des, group == lev)))
  }
}

# ---- svyciprop, overall and by group --------------------------------------------------
# svyciprop(method = "beta") uses nrow(design) - 1 for its t quantile.  On a PPS design
# R's subset() keeps every row (weight 0 outside), so nrow is the whole sample, not the
# domain's answered rows: r_nrow records the n R used.
methods <- c("beta", "logit", "xlogit", "mean", "asin", "likelihood")
cipropd <- list()
for (dn in names(designs)) {
  options(survey.lonely.psu = lonely[[dn]])
  for (v in c("y1", "y3")) {
    f <- as.formula(paste0("~", v))
    ans <- answered_in(designs[[dn]], v)
    for (meth in methods) {
      for (level in c(0.95, 0.90)) {
        ci <- svyciprop(f, ans, method = meth, level = level, na.rm = TRUE)
        cipropd[[length(cipropd) + 1]] <- list(design = dn, variable = v, domain = NULL,
          method = meth, level = level, estimate = num(coef(ci)),
          se = num(sqrt(attr(ci, "var"))), ci_low = num(attr(ci, "ci")[1]),
          ci_high = num(attr(ci, "ci")[2]), df = degf(ans), r_nrow = nrow(ans),
          n = sum(!is.na(county[[v]])))
        b <- suppressWarnings(svyby(f, ~group, ans, svyciprop, vartype = c("se", "ci"),
                                    method = meth, level = level, na.rm = TRUE))
        for (i in seq_len(nrow(b))) {
          lev <- as.character(b$group[i])
          dom <- subset(ans, group == lev)
          cipropd[[length(cipropd) + 1]] <- list(design = dn, variable = v, domain = lev,
            method = meth, level = level, estimate = num(coef(b)[i]), se = num(SE(b)[i]),
            ci_low = num(b$ci_l[i]), ci_high = num(b$ci_u[i]), df = degf(dom),
            r_nrow = nrow(dom), n = sum(!is.na(county[[v]]) & county$group == lev))
        }
      }
    }
  }
}

# ---- the 85% evaluation on the platform's design ---------------------------------------
# Korn-Graubard as svyciprop(method = "beta") computes it, with the domain's rows as n
# (the platform's n; R's own svyciprop would use every row of a PPS design).
kg <- function(p, v, nrows, df, level) {
  alpha <- 1 - level
  n_eff <- p * (1 - p) / v * (qt(alpha / 2, nrows - 1) / qt(alpha / 2, df))^2
  c(qbeta(alpha / 2, n_eff * p, n_eff * (1 - p) + 1),
    qbeta(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p)))
}
options(survey.lonely.psu = "fail")
des <- designs$brewer1
rate <- function(sub, n) {
  r <- svyratio(~rec, ~ans, sub)
  p <- as.vector(coef(r)); v <- as.vector(vcov(r))
  list(estimate = p, se = sqrt(v), n = n, df = degf(sub),
       beta90 = kg(p, v, n, degf(sub), 0.90), beta95 = kg(p, v, n, degf(sub), 0.95))
}
rec_groups <- sort(unique(county$group))
recognition <- list(groups = rec_groups, items = items)
recognition$rate_by_group <- lapply(rec_groups, function(g)
  rate(subset(des, group == g), sum(county$group == g)))
recognition$rate_overall <- rate(des, nrow(county))
a <- c(0.1, 0.5, 0.2, 0.2)  # deputy, parent, student, teacher (sorted group order)
cm <- group_covmat(des, "rec", "ans")
recognition$theta <- list(weights = a, estimate = sum(a * cm$estimate),
  se = sqrt(as.vector(t(a) %*% cm$vcov %*% a)), covariance = cm$vcov)

result <- list(
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  sampling_version = as.character(packageVersion("sampling")),
  generated_by = "tests/reference/pps_reference.R",
  frames = frames,
  means = means, covmats = covmats, ratios = ratios, ciprop = cipropd,
  recognition = recognition
)
writeLines(toJSON(result, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE),
           "tests/reference/pps_reference.json")
cat("wrote tests/reference/pps_county.csv and tests/reference/pps_reference.json\n")
