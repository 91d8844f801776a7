# Reference draws from R's sampling package for tests/analysis/test_pps.py.
# Run from the repository root:  Rscript tests/reference/sampling_reference.R
# Writes tests/reference/sampling_reference.json: for each frame, the inclusion
# probabilities of sampling::inclusionprobabilities(size, n) and, for several seeds,
# the random start u that UPsystematic draws (runif(1) after set.seed) and its sample.
suppressMessages(library(sampling))
library(jsonlite)
out_dir <- "tests/reference"

set.seed(20261202)
frames <- list(
  # a county stratum: enrolments of rural primary schools
  list(name = "rural-primary", size = c(420, 388, 265, 240, 212, 198, 150, 96, 90, 61), n = 4),
  # one large school is taken with certainty
  list(name = "one-certainty", size = c(2600, 300, 280, 260, 240, 220, 200), n = 3),
  # certainties in two rounds: 900 reaches 1 only after 5000 is set aside
  list(name = "two-rounds", size = c(5000, 900, 100, 100, 100, 100, 100, 100), n = 3),
  # a school with no pupils is never drawn
  list(name = "zero-size", size = c(0, 50, 120, 80, 0, 60), n = 2),
  # every school of a small stratum
  list(name = "take-all", size = c(30, 40), n = 2),
  # a larger random stratum
  list(name = "random-60", size = round(rlnorm(60, meanlog = 5.5, sdlog = 0.9)), n = 12)
)
seeds <- c(1, 7, 42, 2026, 99991)

result <- lapply(frames, function(frame) {
  pik <- inclusionprobabilities(frame$size, frame$n)
  draws <- lapply(seeds, function(seed) {
    set.seed(seed)
    u <- runif(1)
    set.seed(seed)
    s <- UPsystematic(pik)
    list(seed = seed, u = u, selected = as.integer(round(s)))
  })
  list(name = frame$name, size = frame$size, n = frame$n, pik = pik, draws = draws)
})

writeLines(toJSON(list(R = R.version.string, sampling = as.character(packageVersion("sampling")),
                       frames = result), digits = NA, auto_unbox = TRUE, pretty = TRUE),
           file.path(out_dir, "sampling_reference.json"))
cat("wrote", file.path(out_dir, "sampling_reference.json"), "\n")
