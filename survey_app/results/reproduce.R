# Recompute the report's main figures from data.csv with R's survey package
# and print them beside the report's (report.json).
#   Rscript reproduce.R [OUT.json]
# OUT.json (optional): R's figures as JSON as well.
suppressMessages(library(survey))
library(jsonlite)
options(survey.lonely.psu = "adjust")

here <- local({
  file <- sub("^--file=", "", grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE))
  if (length(file) == 1) dirname(normalizePath(file)) else getwd()
})
at <- function(name) file.path(here, name)

text_columns <- c(stratum = "character", school = "character", group = "character",
                  questionnaire = "character", psu = "character")
data <- read.csv(at("data.csv"), fileEncoding = "UTF-8-BOM", check.names = FALSE,
                 na.strings = "", colClasses = text_columns)

# Per response: rec = items answered with a recognised option, ans = items answered with
# a recognised or not-recognised option (不了解 and items not asked are left out).
codes <- read.csv(at("recognised.csv"), colClasses = "character", na.strings = character(0))
as_codes <- function(text) {
  if (nchar(text) == 0) integer(0) else as.integer(strsplit(text, " ")[[1]])
}
data$rec <- 0
data$ans <- 0
for (i in seq_len(nrow(codes))) {
  rows <- data$questionnaire == codes$questionnaire[i] &
    data$version == as.integer(codes$version[i])
  chosen <- data[[codes$item[i]]][rows]
  yes <- as_codes(codes$recognised[i])
  no <- as_codes(codes$not_recognised[i])
  data$rec[rows] <- data$rec[rows] + (chosen %in% yes)
  data$ans[rows] <- data$ans[rows] + (chosen %in% c(yes, no))
}

# Per group g: rec_g and ans_g, the group's rec and ans and 0 on other rows, so that one
# svyratio(covmat = TRUE) over the whole design gives the groups' rates (domains) with
# their joint covariance (svyby(covmat = TRUE) fails on PPS designs in survey 4.1).
groups <- sort(unique(data$group))
for (g in groups) {
  data[[paste0("rec_", g)]] <- data$rec * (data$group == g)
  data[[paste0("ans_", g)]] <- data$ans * (data$group == g)
}

# The design: schools drawn with probability proportional to size without replacement
# (Brewer's approximation), the respondents as the second stage. pi: the PSU's
# inclusion probability (m/N for a list; 1e-300 for an open link, no frame: R warns of a
# "population larger than ten billion", harmless, 1 - pi is exactly 1); f2: m/M within
# the PSU. R pairs each unit with its pi and f2 by row order, so the rows go in R's own
# order of stratum and PSU, and each respondent gets a fixed-width number in that order.
data$psu <- factor(data$psu)
data <- data[order(data$stratum, data$psu), ]
data$resp <- formatC(seq_len(nrow(data)), width = nchar(nrow(data)), flag = "0")
design <- withCallingHandlers(
  svydesign(ids = ~psu + resp, strata = ~stratum, weights = ~weight, fpc = ~pi + f2,
            pps = "brewer", data = data),
  warning = function(w) {
    if (grepl("population larger than ten billion", conditionMessage(w))) {
      invokeRestart("muffleWarning")
    }
  }
)
ratios <- svyratio(reformulate(paste0("rec_", groups)), reformulate(paste0("ans_", groups)),
                   design, covmat = TRUE)
diagonal <- (seq_along(groups) - 1) * length(groups) + seq_along(groups)  # rec_g / ans_g
rate <- as.vector(coef(ratios))[diagonal]
rate_se <- sqrt(diag(as.matrix(vcov(ratios)))[diagonal])

report <- fromJSON(at("report.json"), simplifyVector = FALSE)
number <- function(x) if (is.null(x)) NA_real_ else as.numeric(x)
reported <- setNames(report$groups, vapply(report$groups, function(g) g$group, ""))
policy <- vapply(groups, function(g) {
  if (is.null(reported[[g]])) 0 else number(reported[[g]]$policy_weight)
}, numeric(1))
contrast <- numeric(length(groups)^2)
contrast[diagonal] <- policy
county <- svycontrast(ratios, contrast)

figures <- data.frame(figure = character(0), report = numeric(0), R = numeric(0))
add <- function(name, theirs, ours) {
  figures[nrow(figures) + 1, ] <<- list(name, number(theirs), as.numeric(ours))
}
for (i in seq_along(groups)) {
  g <- reported[[groups[i]]]
  add(paste0(groups[i], " estimate"), g$estimate, rate[i])
  add(paste0(groups[i], " se"), g$se, rate_se[i])
}
add("county estimate", report$county$estimate, coef(county))
add("county se", report$county$se, SE(county))
figures$difference <- figures$R - figures$report

cat(sprintf("Campaign %s: %d responses, %d strata, %d PSUs\n", report$campaign, nrow(data),
            length(unique(data$stratum)), length(unique(data$psu))))
print(format(figures, digits = 12), row.names = FALSE)
cat(sprintf("Largest difference: %.3g\n", max(abs(figures$difference), na.rm = TRUE)))

args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1) {
  out <- list(
    groups = setNames(lapply(seq_along(groups), function(i) list(
      estimate = rate[i], se = rate_se[i])), groups),
    county = list(estimate = as.numeric(coef(county)), se = as.numeric(SE(county)))
  )
  writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), args[1])
}
