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
data$fpc[is.na(data$fpc)] <- Inf  # empty: no finite-population correction

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

design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~weight, fpc = ~fpc, data = data)
by_group <- svyby(~rec, ~group, design, svyratio, denominator = ~ans, covmat = TRUE)
groups <- as.character(by_group$group)

report <- fromJSON(at("report.json"), simplifyVector = FALSE)
number <- function(x) if (is.null(x)) NA_real_ else as.numeric(x)
reported <- setNames(report$groups, vapply(report$groups, function(g) g$group, ""))
policy <- vapply(groups, function(g) {
  if (is.null(reported[[g]])) 0 else number(reported[[g]]$policy_weight)
}, numeric(1))
county <- svycontrast(by_group, policy)

figures <- data.frame(figure = character(0), report = numeric(0), R = numeric(0))
add <- function(name, theirs, ours) {
  figures[nrow(figures) + 1, ] <<- list(name, number(theirs), as.numeric(ours))
}
for (i in seq_along(groups)) {
  g <- reported[[groups[i]]]
  add(paste0(groups[i], " estimate"), g$estimate, coef(by_group)[i])
  add(paste0(groups[i], " se"), g$se, SE(by_group)[i])
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
      estimate = unname(coef(by_group)[i]), se = unname(SE(by_group)[i]))), groups),
    county = list(estimate = as.numeric(coef(county)), se = as.numeric(SE(county)))
  )
  writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), args[1])
}
