# Known answers for core.selection.drop_correlated: caret::findCorrelation on Spearman correlations.
# Run from the repository root:  Rscript tests/reference/caret_findcorrelation.R
# Writes tests/reference/caret_findcorrelation_<case>.csv (the data) and
# tests/reference/caret_findcorrelation_removed.csv (removed column names per case and variant).
suppressMessages(library(caret))
set.seed(20251126)
make_data <- function(n, p, groups) {
  latent <- matrix(rnorm(n * groups), n, groups)
  x <- sapply(seq_len(p), function(j) latent[, (j - 1) %% groups + 1] * runif(1, 0.3, 1.5) + rnorm(n, sd = runif(1, 0.2, 1.2)))
  x <- exp(x / 2)  # skewed, so Spearman and Pearson differ
  colnames(x) <- sprintf("f%03d", seq_len(p))
  x
}
cases <- list(small = make_data(60, 30, 8), wide = make_data(80, 150, 25))
rows <- list()
for (name in names(cases)) {
  x <- cases[[name]]
  write.csv(x, sprintf("tests/reference/caret_findcorrelation_%s.csv", name), row.names = FALSE)
  rho <- cor(x, method = "spearman")
  for (exact in c(TRUE, FALSE)) {
    removed <- colnames(x)[findCorrelation(rho, cutoff = 0.7, exact = exact)]
    rows[[length(rows) + 1]] <- data.frame(case = name, exact = exact, removed = paste(sort(removed), collapse = ";"))
  }
}
out <- do.call(rbind, rows)
write.csv(out, "tests/reference/caret_findcorrelation_removed.csv", row.names = FALSE)
cat("caret", as.character(packageVersion("caret")), "R", R.version.string, "\n")
