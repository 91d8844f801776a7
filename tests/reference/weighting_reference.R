# Reference numbers for analysis/weighting.py and analysis/recognition.py.
#
# Run from the repository root:
#   Rscript tests/reference/weighting_reference.R
# It writes tests/reference/county_survey.csv (a simulated county survey, set.seed)
# and tests/reference/weighting_reference.json (every number the tests compare to).
#
# Part 1: postStratify / rake / trimWeights on R's api data, svymean / svytotal SEs
#         after calibration (svyrecvar's postStrata handling).
# Part 2: a simulated county survey: stratified by location x level, clustered by
#         school, groups sharing schools, deputies drawn separately from their own
#         list (own stratum, fpc 200).  Per group x item svyciprop(beta), per group
#         svyratio of recognised over answered items, svyby(covmat=TRUE) +
#         svycontrast for the county score.
suppressMessages(library(survey))
suppressMessages(library(jsonlite))
options(survey.lonely.psu = "fail")

out <- list(
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  jsonlite_version = as.character(packageVersion("jsonlite"))
)

# ---------------------------------------------------------------- part 1: api
data(api)
pop_types <- data.frame(stype = c("E", "H", "M"), Freq = c(4421, 755, 1018))
pop_schwide <- as.data.frame(table(sch.wide = apipop$sch.wide))
pop_compimp <- as.data.frame(table(comp.imp = apipop$comp.imp))

summ <- function(design) {
  m <- svymean(~api00 + api99, design)
  t <- svytotal(~enroll, design)
  list(
    weights = as.vector(weights(design)),
    mean = as.vector(coef(m)), mean_se = as.vector(SE(m)),
    total = as.vector(coef(t)), total_se = as.vector(SE(t))
  )
}

dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)

ps_clus1 <- postStratify(dclus1, ~stype, pop_types)
rk_clus1 <- rake(dclus1, list(~stype, ~sch.wide), list(pop_types, pop_schwide))
rk_strat <- rake(dstrat, list(~sch.wide, ~comp.imp), list(pop_schwide, pop_compimp),
                 control = list(maxit = 50, epsilon = 1e-9))
tr_strat <- trimWeights(dstrat, lower = 18, upper = 40)
tr_strat_strict <- trimWeights(dstrat, lower = 18, upper = 40, strict = TRUE)
tr_rk_clus1 <- trimWeights(rk_clus1, upper = 40, strict = TRUE)
ps_rk_clus1 <- rake(ps_clus1, list(~sch.wide), list(pop_schwide))

out$api <- list(
  clus1 = summ(dclus1),
  strat = summ(dstrat),
  clus1_poststratify_stype = summ(ps_clus1),
  clus1_rake_stype_schwide = summ(rk_clus1),
  strat_rake_schwide_compimp = summ(rk_strat),
  strat_trim_18_40 = summ(tr_strat),
  strat_trim_18_40_strict = summ(tr_strat_strict),
  clus1_rake_trim_40_strict = summ(tr_rk_clus1),
  clus1_poststratify_then_rake_schwide = summ(ps_rk_clus1)
)
out$api$populations <- list(
  stype = pop_types,
  sch.wide = pop_schwide,
  comp.imp = pop_compimp
)
out$api$clus1_rows <- list(dnum = apiclus1$dnum, pw = apiclus1$pw, fpc = apiclus1$fpc,
  stype = as.character(apiclus1$stype), sch.wide = as.character(apiclus1$sch.wide),
  api00 = apiclus1$api00, api99 = apiclus1$api99, enroll = apiclus1$enroll)
out$api$strat_rows <- list(stype = as.character(apistrat$stype), pw = apistrat$pw,
  fpc = apistrat$fpc, sch.wide = as.character(apistrat$sch.wide),
  comp.imp = as.character(apistrat$comp.imp),
  api00 = apistrat$api00, api99 = apistrat$api99, enroll = apistrat$enroll)

# --------------------------------------------------- part 2: simulated county
set.seed(20261124)
items <- paste0("y", 1:8)
areas <- c(y1 = "A", y2 = "A", y3 = "A", y4 = "B", y5 = "B", y6 = "B", y7 = "C", y8 = "C")
# groups: 1 parent, 2 student, 3 teacher, 4 principal, 5 resident (all through
# schools), 6 deputy (own list, own stratum)
base_logit <- c(2.0, 2.4, 1.6, 2.8, 1.2, 2.2)
per_school <- c(20, 10, 6, 1, 3)
rows <- list()
n_strata <- 10
for (h in 1:n_strata) {
  N_h <- sample(8:20, 1)
  n_h <- sample(3:6, 1)
  for (s in 1:n_h) {
    school <- h * 100 + s
    effect <- rnorm(1, 0, 0.6)
    for (g in 1:5) {
      m <- max(1, rpois(1, per_school[g]))
      M <- m * runif(1, 3, 12)
      eta <- base_logit[g] + effect + rnorm(m, 0, 0.3)
      y <- sapply(1:8, function(k) rbinom(m, 1, plogis(eta + (k - 4) * 0.08)))
      y <- matrix(y, nrow = m)
      y[matrix(runif(m * 8) < 0.06, nrow = m)] <- NA
      rows[[length(rows) + 1]] <- data.frame(stratum = h, school = school, fpc = N_h,
        group = g, w = (N_h / n_h) * (M / m), y)
    }
  }
}
n_dep <- 25
y <- matrix(rbinom(n_dep * 8, 1, plogis(base_logit[6])), nrow = n_dep)
y[matrix(runif(n_dep * 8) < 0.06, nrow = n_dep)] <- NA
rows[[length(rows) + 1]] <- data.frame(stratum = 99, school = 9900 + 1:n_dep, fpc = 200,
  group = 6, w = 200 / n_dep, y)
county <- do.call(rbind, rows)
names(county)[6:13] <- items
write.csv(county, "tests/reference/county_survey.csv", row.names = FALSE)
# read back what Python reads, so both sides see identical numbers
county <- read.csv("tests/reference/county_survey.csv")

county$rec <- rowSums(county[, items], na.rm = TRUE)
county$ans <- rowSums(!is.na(county[, items]))
for (a in unique(areas)) {
  cols <- names(areas)[areas == a]
  county[[paste0("rec_", a)]] <- rowSums(county[, cols, drop = FALSE], na.rm = TRUE)
  county[[paste0("ans_", a)]] <- rowSums(!is.na(county[, cols, drop = FALSE]))
}
des <- svydesign(id = ~school, strata = ~stratum, weights = ~w, fpc = ~fpc, data = county)

# Korn-Graubard interval for a ratio, svyciprop(method = "beta")'s formula.
kg <- function(p, v, nrows, df, level) {
  alpha <- 1 - level
  n_eff <- p * (1 - p) / v * (qt(alpha / 2, nrows - 1) / qt(alpha / 2, df))^2
  c(qbeta(alpha / 2, n_eff * p, n_eff * (1 - p) + 1),
    qbeta(1 - alpha / 2, n_eff * p + 1, n_eff * (1 - p)))
}
prop <- function(item, sub) {
  f <- as.formula(paste0("~", item))
  b90 <- svyciprop(f, sub, method = "beta", level = 0.90)
  b95 <- svyciprop(f, sub, method = "beta", level = 0.95)
  x90 <- svyciprop(f, sub, method = "xlogit", level = 0.90)
  list(estimate = as.vector(b90), se = sqrt(as.vector(attr(b90, "var"))),
       n = nrow(sub), df = degf(sub),
       beta90 = as.vector(attr(b90, "ci")), beta95 = as.vector(attr(b95, "ci")),
       xlogit90 = as.vector(attr(x90, "ci")))
}
ratio <- function(num, den, sub) {
  r <- svyratio(as.formula(paste0("~", num)), as.formula(paste0("~", den)), sub)
  p <- as.vector(coef(r)); v <- as.vector(vcov(r))
  list(estimate = p, se = sqrt(v), n = nrow(sub), df = degf(sub),
       beta90 = kg(p, v, nrow(sub), degf(sub), 0.90),
       beta95 = kg(p, v, nrow(sub), degf(sub), 0.95))
}
groups <- sort(unique(county$group))
sim <- list(items = items, areas = as.list(areas), groups = groups)
sim$item_by_group <- lapply(groups, function(g) lapply(items, function(k)
  prop(k, subset(des, group == g & !is.na(county[[k]])))))
sim$item_overall <- lapply(items, function(k) prop(k, subset(des, !is.na(county[[k]]))))
sim$rate_by_group <- lapply(groups, function(g) ratio("rec", "ans", subset(des, group == g)))
sim$rate_overall <- ratio("rec", "ans", des)
sim$area_by_group <- lapply(groups, function(g) lapply(sort(unique(areas)), function(a)
  ratio(paste0("rec_", a), paste0("ans_", a), subset(des, group == g))))
sim$area_overall <- lapply(sort(unique(areas)), function(a)
  ratio(paste0("rec_", a), paste0("ans_", a), des))

# County score: parent 0.5, the five other groups 0.1 each.
a <- c(0.5, rep(0.1, 5))
by_rate <- svyby(~rec, ~group, des, svyratio, denominator = ~ans, covmat = TRUE)
theta <- svycontrast(by_rate, a)
V <- vcov(by_rate)
sim$theta_rate <- list(weights = a, estimate = as.vector(coef(theta)),
  se = as.vector(SE(theta)), covariance = unname(V),
  se_if_independent = sqrt(sum(a^2 * diag(V))))
# Deputies drawn separately: zero covariance by design (own stratum); Satterthwaite
# df over the school part (df of the school groups' domain) and the deputies.
v_school <- as.vector(t(a[1:5]) %*% V[1:5, 1:5] %*% a[1:5])
v_dep <- a[6]^2 * V[6, 6]
df_school <- degf(subset(des, group %in% 1:5))
df_dep <- degf(subset(des, group == 6))
sim$theta_rate$df_satterthwaite <- (v_school + v_dep)^2 /
  (v_school^2 / df_school + v_dep^2 / df_dep)
sim$theta_rate$df_school <- df_school
sim$theta_rate$df_deputy <- df_dep

by_y1 <- svyby(~y1, ~group, subset(des, !is.na(y1)), svymean, covmat = TRUE)
theta1 <- svycontrast(by_y1, a)
sim$theta_y1 <- list(weights = a, estimate = as.vector(coef(theta1)),
  se = as.vector(SE(theta1)), covariance = unname(vcov(by_y1)))

# Post-stratified to known population counts by location (城区 U: strata 1-4, 镇区 T:
# 5-7, 乡村 R: 8-10, deputies' list D): the cells cut across schools' groups, so the
# group rates and their SEs change.  Rates, one item per group and the county score
# after calibration (estimates and SEs).
county$location <- ifelse(county$stratum <= 4, "U", ifelse(county$stratum <= 7, "T",
                          ifelse(county$stratum <= 10, "R", "D")))
des <- update(des, location = county$location)
loc_levels <- c("D", "R", "T", "U")
loc_total <- as.vector(coef(svytotal(~factor(location, levels = loc_levels), des)))
group_pop <- data.frame(location = loc_levels, Freq = round(loc_total * c(1, 1.3, 0.8, 1.1)))
ps <- postStratify(des, ~location, group_pop)
sim$poststratified <- list(
  population = group_pop,
  rate_by_group = lapply(groups, function(g) {
    r <- svyratio(~rec, ~ans, subset(ps, group == g))
    list(estimate = as.vector(coef(r)), se = as.vector(SE(r)))
  }),
  y1_by_group = lapply(groups, function(g) {
    m <- svymean(~y1, subset(ps, group == g), na.rm = TRUE)
    list(estimate = as.vector(coef(m)), se = as.vector(SE(m)))
  }),
  rate_overall = {
    r <- svyratio(~rec, ~ans, ps)
    list(estimate = as.vector(coef(r)), se = as.vector(SE(r)))
  }
)
# svyby(svyratio, covmat=TRUE) fails on calibrated designs in survey 4.1, so the
# domains are written as ratios of domain-indicator totals on the whole design.
for (g in groups) {
  ps$variables[[paste0("rec_g", g)]] <- ps$variables$rec * (ps$variables$group == g)
  ps$variables[[paste0("ans_g", g)]] <- ps$variables$ans * (ps$variables$group == g)
}
r_ps <- svyratio(as.formula(paste0("~", paste0("rec_g", groups, collapse = "+"))),
                 as.formula(paste0("~", paste0("ans_g", groups, collapse = "+"))),
                 ps, covmat = TRUE)
pick <- (seq_along(groups) - 1) * length(groups) + seq_along(groups)  # rec_g / ans_g
V_ps <- vcov(r_ps)[pick, pick]
est_ps <- as.vector(coef(r_ps))[pick]
sim$poststratified$theta <- list(estimate = sum(a * est_ps),
  se = sqrt(as.vector(t(a) %*% V_ps %*% a)), covariance = unname(V_ps))
out$county <- sim

write_json(out, "tests/reference/weighting_reference.json", digits = NA, auto_unbox = TRUE,
           pretty = TRUE)
cat("wrote tests/reference/weighting_reference.json and county_survey.csv\n")
