# Reference numbers from R's survey package for tests/analysis.
# Run from the repository root:  Rscript tests/reference/survey_reference.R
# Writes tests/reference/{apistrat,apiclus1,apiclus2,simulated_survey}.csv (the exact
# data R used) and tests/reference/survey_reference.json (the numbers).
suppressMessages(library(survey))
library(jsonlite)
data(api)
out_dir <- "tests/reference"
options(survey.lonely.psu = "fail")

# ---- data ------------------------------------------------------------------------------
keep <- c("snum", "dnum", "stype", "api00", "api99", "enroll", "api.stu", "meals", "sch.wide")
prep <- function(d, extra) {
  d <- d[, c(keep, extra)]
  d$stype <- as.character(d$stype)
  d$sch_wide_yes <- as.numeric(d$sch.wide == "Yes")
  d$api00_gt_700 <- as.numeric(d$api00 > 700)
  d$sch.wide <- NULL
  # a variable with missing values (R's na.rm=TRUE semantics)
  d$api99_na <- ifelse(d$snum %% 7 == 0, NA, d$api99)
  d$hi_na <- ifelse(d$snum %% 5 == 0, NA, d$api00_gt_700)
  d
}
apistrat_d <- prep(apistrat, c("pw", "fpc"))
apiclus1_d <- prep(apiclus1, c("pw", "fpc"))
apiclus2_d <- prep(apiclus2, c("pw", "fpc1", "fpc2"))

set.seed(20261124)
N_h <- c(30, 20, 15, 10, 12, 25)
n_h <- c(10, 7, 6, 4, 5, 8)
rows <- list()
school_id <- 0
for (h in seq_along(N_h)) {
  for (s in seq_len(n_h[h])) {
    school_id <- school_id + 1
    N_resp <- sample(80:400, 1)
    m <- sample(8:25, 1)
    effect <- rnorm(1, 0, 0.8)
    group <- sample(c("student", "parent", "teacher"), m, replace = TRUE, prob = c(.35, .5, .15))
    d <- data.frame(stratum = paste0("S", h), school = school_id, resp = seq_len(m),
                    group = group, N_schools = N_h[h], N_resp = N_resp)
    for (j in 1:5) {
      lin <- 1.2 + effect + 0.3 * (group == "parent") - 0.2 * j
      p_not <- plogis(-lin - 0.8)
      u <- runif(m)
      answer <- ifelse(u < p_not, 1, sample(2:4, m, replace = TRUE))
      answer[runif(m) < 0.08] <- NA  # 不了解 (don't know)
      d[[paste0("item", j)]] <- answer
      d[[paste0("rec", j)]] <- as.numeric(answer >= 2)
    }
    rows[[length(rows) + 1]] <- d
  }
}
sim <- do.call(rbind, rows)
recs <- as.matrix(sim[, paste0("rec", 1:5)])
sim$n_rec <- rowSums(recs, na.rm = TRUE)
sim$n_ans <- rowSums(!is.na(recs))
sim$certain <- ifelse(sim$group == "teacher", 1, sim$rec1)  # p-hat = 1 for teachers
sim$certain[is.na(sim$certain)] <- 0
sim$w <- (sim$N_schools / n_h[as.integer(substring(sim$stratum, 2))]) *
  (sim$N_resp / ave(sim$resp, sim$school, FUN = length))

write.csv(apistrat_d, file.path(out_dir, "apistrat.csv"), row.names = FALSE, na = "")
write.csv(apiclus1_d, file.path(out_dir, "apiclus1.csv"), row.names = FALSE, na = "")
write.csv(apiclus2_d, file.path(out_dir, "apiclus2.csv"), row.names = FALSE, na = "")
write.csv(sim, file.path(out_dir, "simulated_survey.csv"), row.names = FALSE, na = "")
# read back what Python reads, so both sides see identical numbers
apistrat_d <- read.csv(file.path(out_dir, "apistrat.csv"))
apiclus1_d <- read.csv(file.path(out_dir, "apiclus1.csv"))
apiclus2_d <- read.csv(file.path(out_dir, "apiclus2.csv"))
sim <- read.csv(file.path(out_dir, "simulated_survey.csv"))

designs <- list(
  apistrat = svydesign(id = ~1, strata = ~stype, fpc = ~fpc, weights = ~pw, data = apistrat_d),
  apiclus1 = svydesign(id = ~dnum, fpc = ~fpc, data = apiclus1_d),
  apiclus2 = svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2_d),
  sim2 = svydesign(id = ~school + resp, strata = ~stratum, fpc = ~N_schools + N_resp, data = sim),
  sim1 = svydesign(id = ~school, strata = ~stratum, weights = ~w, data = sim)
)
num <- function(x) { x <- as.numeric(x); ifelse(is.finite(x), x, NA) }

# ---- svymean, with deff, overall and by domain ----------------------------------------
mean_vars <- list(apistrat = c("api00", "api99_na", "sch_wide_yes", "hi_na"),
                  apiclus1 = c("api00", "api99_na", "sch_wide_yes"),
                  apiclus2 = c("api00", "api99_na", "enroll"),
                  sim2 = c("item1", "rec1", "rec2", "n_rec"),
                  sim1 = c("item1", "rec1", "rec3"))
by_var <- c(apistrat = "stype", apiclus1 = "stype", apiclus2 = "stype", sim2 = "group",
            sim1 = "group")
means <- list()
covmats <- list()
for (dn in names(mean_vars)) {
  des <- designs[[dn]]
  byv <- by_var[[dn]]
  for (v in mean_vars[[dn]]) {
    f <- as.formula(paste0("~", v))
    m <- svymean(f, des, na.rm = TRUE, deff = TRUE)
    answered <- subset(des, !is.na(des$variables[[v]]))
    means[[length(means) + 1]] <- list(design = dn, variable = v, by = NULL, domain = NULL,
      estimate = num(coef(m)), se = num(SE(m)), deff = num(deff(m)), df = degf(answered),
      n = sum(!is.na(des$variables[[v]])))
    b <- svyby(f, as.formula(paste0("~", byv)), answered, svymean, deff = TRUE, covmat = TRUE)
    for (i in seq_len(nrow(b))) {
      lev <- as.character(b[[byv]][i])
      dom <- subset(answered, answered$variables[[byv]] == lev)
      means[[length(means) + 1]] <- list(design = dn, variable = v, by = byv, domain = lev,
        estimate = num(coef(b)[i]), se = num(SE(b)[i]), deff = num(deff(b)[i]), df = degf(dom),
        n = nrow(dom))
    }
    covmats[[length(covmats) + 1]] <- list(design = dn, variable = v, by = byv,
      domains = as.character(b[[byv]]), vcov = unname(as.matrix(vcov(b))))
  }
}

# ---- svyratio ---------------------------------------------------------------------------
ratio_cases <- list(list("apistrat", "api00", "api99"), list("apiclus1", "api00", "api99"),
                    list("apiclus2", "api00", "enroll"), list("apistrat", "api00", "api99_na"),
                    list("sim2", "n_rec", "n_ans"), list("sim1", "n_rec", "n_ans"))
ratios <- list()
for (rc in ratio_cases) {
  des <- designs[[rc[[1]]]]
  byv <- by_var[[rc[[1]]]]
  nf <- as.formula(paste0("~", rc[[2]]))
  df_ <- as.formula(paste0("~", rc[[3]]))
  r <- svyratio(nf, df_, des, na.rm = TRUE, deff = TRUE)
  ratios[[length(ratios) + 1]] <- list(design = rc[[1]], numerator = rc[[2]],
    denominator = rc[[3]], by = NULL, domain = NULL, estimate = num(coef(r)), se = num(SE(r)),
    deff = num(attr(r, "deff")))
  ok <- subset(des, !is.na(des$variables[[rc[[2]]]]) & !is.na(des$variables[[rc[[3]]]]))
  b <- svyby(nf, as.formula(paste0("~", byv)), ok, svyratio, denominator = df_, deff = TRUE)
  for (i in seq_len(nrow(b))) {
    ratios[[length(ratios) + 1]] <- list(design = rc[[1]], numerator = rc[[2]],
      denominator = rc[[3]], by = byv, domain = as.character(b[[byv]][i]),
      estimate = num(coef(b)[i]), se = num(SE(b)[i]), deff = num(deff(b)[i]))
  }
}

# ---- svyciprop, every method, overall and by domain -------------------------------------
methods <- c("logit", "likelihood", "asin", "beta", "mean", "xlogit")
prop_cases <- list(list("apistrat", "sch_wide_yes"), list("apistrat", "api00_gt_700"),
                   list("apiclus1", "sch_wide_yes"), list("apiclus2", "api00_gt_700"),
                   list("sim2", "rec1"), list("sim1", "rec2"))
cipropd <- list()
for (pc in prop_cases) {
  des <- subset(designs[[pc[[1]]]], !is.na(designs[[pc[[1]]]]$variables[[pc[[2]]]]))
  byv <- by_var[[pc[[1]]]]
  f <- as.formula(paste0("~", pc[[2]]))
  for (meth in methods) {
    for (level in c(0.95, 0.90)) {
      ci <- svyciprop(f, des, method = meth, level = level)
      cipropd[[length(cipropd) + 1]] <- list(design = pc[[1]], variable = pc[[2]], by = NULL,
        domain = NULL, method = meth, level = level, estimate = num(coef(ci)),
        ci_low = num(attr(ci, "ci")[1]), ci_high = num(attr(ci, "ci")[2]), df = degf(des))
      b <- svyby(f, as.formula(paste0("~", byv)), des, svyciprop, vartype = "ci",
                 method = meth, level = level)
      for (i in seq_len(nrow(b))) {
        lev <- as.character(b[[byv]][i])
        dom <- subset(des, des$variables[[byv]] == lev)
        cipropd[[length(cipropd) + 1]] <- list(design = pc[[1]], variable = pc[[2]], by = byv,
          domain = lev, method = meth, level = level, estimate = num(coef(b)[i]),
          ci_low = num(b$ci_l[i]), ci_high = num(b$ci_u[i]), df = degf(dom))
      }
    }
  }
}

# ---- p-hat = 1: R gives NaN or an error ---------------------------------------------------
degenerate <- list()
teachers <- subset(designs$sim2, group == "teacher")
for (meth in methods) {
  res <- tryCatch({
    ci <- svyciprop(~certain, teachers, method = meth)
    list(estimate = num(coef(ci)), ci_low = num(attr(ci, "ci")[1]),
         ci_high = num(attr(ci, "ci")[2]), error = NULL)
  }, error = function(e) list(estimate = NULL, ci_low = NULL, ci_high = NULL,
                              error = conditionMessage(e)))
  degenerate[[length(degenerate) + 1]] <- c(list(method = meth, df = degf(teachers),
                                                 n = nrow(teachers)), res)
}

# ---- lonely PSU: stratum S4 keeps one school ---------------------------------------------
first_s4 <- min(sim$school[sim$stratum == "S4"])
lonely_data <- sim[sim$stratum != "S4" | sim$school == first_s4, ]
lonely <- list()
for (opt in c("fail", "remove", "adjust", "certainty", "average")) {
  options(survey.lonely.psu = opt)
  for (stage in c("one", "two")) {
    des <- if (stage == "one") {
      svydesign(id = ~school, strata = ~stratum, weights = ~w, data = lonely_data)
    } else {
      svydesign(id = ~school + resp, strata = ~stratum, fpc = ~N_schools + N_resp,
                data = lonely_data)
    }
    ans <- subset(des, !is.na(rec1))
    res <- tryCatch({
      m <- svymean(~rec1, ans)
      b <- svyby(~rec1, ~group, ans, svymean)
      list(estimate = num(coef(m)), se = num(SE(m)), by_domain = as.character(b$group),
           by_estimate = num(coef(b)), by_se = num(SE(b)), error = NULL)
    }, error = function(e) list(error = conditionMessage(e)))
    lonely[[length(lonely) + 1]] <- c(list(option = opt, stage = stage, variable = "rec1",
                                           df = degf(ans)), res)
  }
}
options(survey.lonely.psu = "fail")

result <- list(
  r_version = R.version.string,
  survey_version = as.character(packageVersion("survey")),
  generated_by = "tests/reference/survey_reference.R",
  means = means, covmats = covmats, ratios = ratios, ciprop = cipropd,
  degenerate = degenerate, lonely = lonely
)
writeLines(toJSON(result, digits = NA, auto_unbox = TRUE, null = "null", na = "null",
                  pretty = TRUE),
           file.path(out_dir, "survey_reference.json"))
cat("wrote", file.path(out_dir, "survey_reference.json"), "\n")
