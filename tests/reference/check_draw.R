# Check a recorded draw with R's sampling package:
#   Rscript tests/reference/check_draw.R DRAW.csv
# DRAW.csv is what `flask --app wsgi plan export` writes. For each stratum, R computes
# inclusionprobabilities(size, n_stratum) and runs its own UPsystematic with the
# recorded random start (R's runif(1) inside it is made to return that start), then
# prints one JSON object: per stratum the largest |pi - R's pi| and whether R selects
# the same schools.
suppressMessages(library(sampling))
library(jsonlite)
draw <- read.csv(commandArgs(trailingOnly = TRUE)[1], colClasses = c(school_code = "character"))
check <- lapply(split(draw, draw$stratum), function(s) {
  s <- s[order(s$frame_order), ]
  pik <- inclusionprobabilities(s$size, s$n_stratum[1])
  u <- s$start[1]
  systematic <- UPsystematic
  environment(systematic) <- list2env(list(runif = function(n, min = 0, max = 1) u),
                                      parent = environment(UPsystematic))
  selected <- as.integer(round(systematic(pik)))
  list(max_pi_difference = max(abs(pik - s$pi)), same_selection = all(selected == s$selected),
       selected = sum(selected))
})
cat(toJSON(check, digits = NA, auto_unbox = TRUE))
