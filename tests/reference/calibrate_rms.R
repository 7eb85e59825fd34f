# Known answers for core.stats.calibration_optimism: rms::calibrate's optimism-corrected calibration curve and
# rms::validate's optimism-corrected calibration Intercept, Slope and Brier score (B) of a logistic model, with the
# bootstrap row indices R drew, so that the Python test refits the model on the very same resamples.
# predab.resample (method "boot", no cluster or group) draws nothing but sample(n, replace = TRUE) once per resample
# (setPb, lrm.fit and the measures draw no random number), so set.seed(1) and B such calls reproduce its indices;
# this script checks that by refitting on them here and comparing with calibrate() itself.
# Run from the repository root:  Rscript tests/reference/calibrate_rms.R
suppressMessages(library(rms))
set.seed(20261206)
n <- 200
x1 <- rnorm(n); x2 <- rnorm(n); x3 <- rnorm(n)
y <- rbinom(n, 1, plogis(-0.6 + 0.9 * x1 - 0.6 * x2 + 0.15 * x3))
d <- data.frame(y = y, x1 = x1, x2 = x2, x3 = x3)
write.csv(d, "tests/reference/calibrate_rms_data.csv", row.names = FALSE)
fit <- lrm(y ~ x1 + x2 + x3, data = d, x = TRUE, y = TRUE)
B <- 40
set.seed(1)
cal <- calibrate(fit, B = B)
set.seed(1)
val <- validate(fit, B = B)
set.seed(1)
idx <- sapply(seq_len(B), function(i) sample(n, replace = TRUE))  # what predab.resample drew, column per resample
# The indices are those calibrate used: refit per column and recompute its optimism exactly as calibrate.default does.
predy <- cal[, "predy"]
smooth_at <- function(p, yy) approx(lowess(p, yy, iter = 0), xout = predy, ties = function(x) x[1])$y
X <- fit$x
train <- test <- matrix(0, length(predy), B); num <- numeric(length(predy))
for (i in seq_len(B)) {
  f <- lrm.fit(X[idx[, i], ], y[idx[, i]], tol = 1e-13)
  xb <- drop(f$coefficients[1] + X %*% f$coefficients[-1])
  a <- smooth_at(plogis(xb[idx[, i]]), y[idx[, i]]) - predy
  b <- smooth_at(plogis(xb), y) - predy
  ok <- !is.na(a + b); num <- num + ok; a[!ok] <- 0; b[!ok] <- 0
  train[, i] <- a; test[, i] <- b
}
stopifnot(isTRUE(all.equal(rowSums(train) / num - rowSums(test) / num, unname(cal[, "optimism"]), tolerance = 1e-12)))
stopifnot(all(num == cal[, "n"]))
# The same indices for validate: each resample model's recalibration (intercept, slope) on the original cohort.
recal <- t(sapply(seq_len(B), function(i) {
  f <- lrm.fit(X[idx[, i], ], y[idx[, i]], maxit = 12, tol = 1e-7)
  lrm.fit(drop(f$coefficients[1] + X %*% f$coefficients[-1]), y, tol = 1e-13)$coefficients
}))
stopifnot(isTRUE(all.equal(unname(colMeans(recal)), unname(val[c("Intercept", "Slope"), "test"]), tolerance = 1e-12)))
write.csv(data.frame(resample = rep(seq_len(B), each = n), row = as.vector(idx)),
          "tests/reference/calibrate_rms_indices.csv", row.names = FALSE)
write.csv(data.frame(predy = cal[, "predy"], calibrated_orig = cal[, "calibrated.orig"],
                     calibrated_corrected = cal[, "calibrated.corrected"], index_orig = cal[, "index.orig"],
                     training = cal[, "training"], test = cal[, "test"], optimism = cal[, "optimism"],
                     n = cal[, "n"]),
          "tests/reference/calibrate_rms_calibrate.csv", row.names = FALSE)
rows <- c("Intercept", "Slope", "B")
write.csv(data.frame(index = rows, index_orig = val[rows, "index.orig"], training = val[rows, "training"],
                     test = val[rows, "test"], optimism = val[rows, "optimism"],
                     index_corrected = val[rows, "index.corrected"], n = val[rows, "n"]),
          "tests/reference/calibrate_rms_validate.csv", row.names = FALSE)
cat(R.version.string, "rms", as.character(packageVersion("rms")), "\n")
