# Known answers for core.stats.evaluation.youden_cutoff and cutoff_for_sensitivity: the cut-offs as R pROC
# places them (midpoints between neighbouring sorted unique scores, -Inf and +Inf at the ends).
# Run from the repository root:  Rscript tests/reference/proc_cutoffs.R
# Made with R 4.2.2, pROC 1.18.0.
#
# Data sets (column y: 0/1 outcome; the other columns: scores):
#   rounded  tests/reference/proc_delong_data.csv (a, b rounded to 0.1: ties within and between classes)
#   ties     proc_cutoffs_ties.csv, written here: integer scores 0-6 (heavy ties), and "tied_j" (two cut-offs
#            with the same Youden J) and "inverted" (events score lower: J <= 0 everywhere, pROC's best is +-Inf)
#   sample   proc_cutoffs_sample.csv: the sample study's training patients (700), outcome and each model's
#            predicted probability from the stored fit sample_data/fitted/models.json.gz, as
#            predict_study(sample_study(), load_sample_fit(sample_study())) gives them (written with 17 digits).
# Answers: proc_cutoffs.csv, one row per data set, score and rule:
#   rule "youden": coords(roc, "best", best.method = "youden"); pROC returns every tied cut-off, so
#     n_best counts them and threshold is the highest, low_threshold the lowest; sensitivity/specificity at
#     the highest.
#   rule "sensitivity" (target): the highest of pROC's thresholds (coords(roc, "all")) whose sensitivity
#     reaches the target. (coords(roc, x = target, input = "sensitivity") interpolates and gives no threshold.)
# Numbers are written with 17 significant digits, so they read back as the same doubles.
suppressMessages(library(pROC))
set.seed(28)
n <- 120
y <- rbinom(n, 1, 0.4)
s <- pmin(6, pmax(0, round(1.2 * y + rnorm(n, 2, 1.3))))
ties <- data.frame(y = y, s = s,
                   tied_j = rep(c(1, 1, 2, 2, 3, 3, 4, 4), length.out = n),
                   inverted = round(-1.5 * y + rnorm(n), 1))
# tied_j's outcome: 0 at scores 1 and 3, 1 at 2 and 4, so cut-offs 1.5 and 3.5 both give J = 0.5; it
# needs its own outcome column, kept in y_tied_j.
ties$y_tied_j <- as.integer(ties$tied_j %in% c(2, 4))
write.csv(ties, "tests/reference/proc_cutoffs_ties.csv", row.names = FALSE)
rounded <- read.csv("tests/reference/proc_delong_data.csv")
sample <- read.csv("tests/reference/proc_cutoffs_sample.csv")

digits <- function(x) ifelse(is.finite(x), sprintf("%.17g", x), as.character(x))
rows <- list()
add <- function(dataset, score, outcome, predictor) {
  r <- roc(outcome, predictor, direction = "<", levels = c(0, 1), quiet = TRUE)
  best <- coords(r, "best", best.method = "youden", ret = c("threshold", "sensitivity", "specificity"),
                 transpose = FALSE)
  top <- which.max(best$threshold)
  rows[[length(rows) + 1]] <<- data.frame(dataset = dataset, score = score, rule = "youden", target = NA,
                                          threshold = digits(best$threshold[top]),
                                          low_threshold = digits(min(best$threshold)), n_best = nrow(best),
                                          sensitivity = digits(best$sensitivity[top]),
                                          specificity = digits(best$specificity[top]))
  all <- coords(r, "all", ret = c("threshold", "sensitivity", "specificity"), transpose = FALSE)
  for (target in c(0.5, 0.8, 0.9, 0.95, 1)) {
    reaching <- all[all$sensitivity >= target, ]
    top <- which.max(reaching$threshold)
    rows[[length(rows) + 1]] <<- data.frame(dataset = dataset, score = score, rule = "sensitivity",
                                            target = target, threshold = digits(reaching$threshold[top]),
                                            low_threshold = NA, n_best = NA,
                                            sensitivity = digits(reaching$sensitivity[top]),
                                            specificity = digits(reaching$specificity[top]))
  }
}
for (col in c("a", "b")) add("rounded", col, rounded$y, rounded[[col]])
add("ties", "s", ties$y, ties$s)
add("ties", "tied_j", ties$y_tied_j, ties$tied_j)
add("ties", "inverted", ties$y, ties$inverted)
for (col in setdiff(names(sample), "y")) add("sample", col, sample$y, sample[[col]])
write.csv(do.call(rbind, rows), "tests/reference/proc_cutoffs.csv", row.names = FALSE, na = "")
cat(R.version.string, "pROC", as.character(packageVersion("pROC")), "\n")
