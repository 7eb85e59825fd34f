# Known answers for core.stats.survival.lasso_cox: R's glmnet / cv.glmnet (family = "cox", alpha = 1,
# standardize = TRUE, Breslow ties, type.measure "deviance" grouped and "C").
# Run from the repository root:  Rscript tests/reference/glmnet_cox.R   (about 40 s)
# Written with R 4.2.2, glmnet 4.1-6, survival 3.5-3 (the versions are printed at the end).
# Three problems, each with its time, event (1 = event, 0 = censored), foldid and features:
#   "narrow": n = 300, p = 40, correlated features on scales 0.01 to 1000, times in whole months (ties),
#             ~30 % censored;
#   "lung":   survival::lung, complete cases of its 7 numeric predictors (n = 167, times in days, ties);
#   "wide":   n = 100, p = 500, correlated features written as small whole numbers (to keep the CSV
#             under 200 KB), times in whole months, ~30 % censored.
# Each is fitted twice: converged tightly (thresh 1e-13; 1e-9 for "wide") to compare lambdas, coefficients
# and CV curves to many digits, and with glmnet's defaults (thresh 1e-7) to compare the same at its defaults
# (_cv.csv: the tight curves, _cv_default.csv: the default ones; _coef.csv and the path: tight).
# The C-index curve (type.measure = "C", Harrell's C of the held-out fold) is computed from the same folds.
suppressMessages({library(glmnet); library(survival)})
# The C curve of a cross-validation already run with keep = TRUE: cv.glmnet(type.measure = "C") computes it
# from the same held-out linear predictors (cv.coxnet, cvstats, getOptcv.glmnet), so the folds are fitted once.
c_measure <- function(cv, y, foldid) {
  stuff <- glmnet:::cv.coxnet(cv$fit.preval, y, "C", rep(1, nrow(y)), foldid, TRUE)
  out <- glmnet:::cvstats(stuff, foldid, max(foldid), cv$lambda, cv$nzero, stuff$grouped)
  chosen <- glmnet:::getOptcv.glmnet(out$lambda, out$cvm, out$cvsd, "C-index")
  c(out, chosen, list(glmnet.fit = cv$glmnet.fit))
}
# time_unit: glmnet is given time / time_unit. glmnet puts a censored time tied with an event time after it by
# adding 100 machine epsilons, a shift lost to rounding for times of 256 or more; its risk sets then follow its
# quicksort's order. lung's days reach 1,022 (censored at 269, 284, 301, 303 days, tied with deaths), so glmnet
# is given years: the same order of times (the Cox partial likelihood depends on nothing else), ties kept.
write_answers <- function(name, x, time, event, foldid, thresh = 1e-13, time_unit = 1) {
  y <- Surv(time / time_unit, event)
  write.csv(data.frame(time = time, event = event, foldid = foldid, x),
            sprintf("tests/reference/glmnet_cox_%s_data.csv", name), row.names = FALSE)
  tight <- cv.glmnet(x, y, family = "cox", foldid = foldid, thresh = thresh, maxit = 1e8, keep = TRUE)
  default <- cv.glmnet(x, y, family = "cox", foldid = foldid, keep = TRUE)
  tight_c <- c_measure(tight, y, foldid)
  default_c <- c_measure(default, y, foldid)
  if (name != "wide") {  # the shortcut gives cv.glmnet's own type.measure = "C" (checked where it is quick)
    check <- cv.glmnet(x, y, family = "cox", foldid = foldid, type.measure = "C")
    stopifnot(isTRUE(all.equal(check$cvm, default_c$cvm)), check$lambda.1se == default_c$lambda.1se)
  }
  fit <- tight$glmnet.fit
  curves <- list(cv = list(tight, tight_c), cv_default = list(default, default_c))
  for (kind in names(curves)) {
    dev <- curves[[kind]][[1]]
    cc <- curves[[kind]][[2]]
    write.csv(data.frame(lambda = dev$lambda, cvm = dev$cvm, cvsd = dev$cvsd, nzero = dev$nzero,
                         dev_ratio = dev$glmnet.fit$dev.ratio, cvm_c = cc$cvm, cvsd_c = cc$cvsd),
              sprintf("tests/reference/glmnet_cox_%s_%s.csv", name, kind), row.names = FALSE)
  }
  # Coefficients (original scale) at lambda.min, lambda.1se and at five lambdas along the path.
  along <- unique(round(seq(2, length(fit$lambda), length.out = 5)))
  coefs <- cbind(as.matrix(coef(tight, s = "lambda.min")), as.matrix(coef(tight, s = "lambda.1se")),
                 as.matrix(fit$beta[, along]))
  colnames(coefs) <- c("lambda_min", "lambda_1se", sprintf("path_%d", along))
  write.csv(data.frame(term = rownames(coefs), coefs), sprintf("tests/reference/glmnet_cox_%s_coef.csv", name),
            row.names = FALSE)
  fits <- list(tight = tight, default = default, tight_c = tight_c, default_c = default_c)
  write.csv(data.frame(fit = names(fits),
                       lambda_min = sapply(fits, function(f) f$lambda.min),
                       lambda_1se = sapply(fits, function(f) f$lambda.1se),
                       index_min = sapply(fits, function(f) f$index["min", 1]),
                       index_1se = sapply(fits, function(f) f$index["1se", 1]),
                       n_lambda = sapply(fits, function(f) length(f$lambda)),
                       nulldev = sapply(fits, function(f) f$glmnet.fit$nulldev)),
            sprintf("tests/reference/glmnet_cox_%s_choice.csv", name), row.names = FALSE)
}

simulate <- function(n, p, seed, whole = FALSE) {
  set.seed(seed)
  z <- matrix(rnorm(n * p), n, p) + matrix(rnorm(n * 4), n, 4) %*% matrix(rnorm(4 * p, sd = 0.5), 4, p)
  x <- z
  x[, 2] <- 0.7 * z[, 1] + 0.7 * z[, 2]  # a correlated pair
  x[, 3] <- exp(z[, 3])                  # skewed
  if (whole) {
    x <- round(3 * x)
    x[, 3] <- round(exp(z[, 3]))
  } else {
    x <- signif(sweep(x, 2, 10^seq(-2, 3, length.out = p), "*"), 8)  # scales 0.01 to 1000
  }
  eta <- 0.8 * z[, 1] - 0.6 * z[, 4] + 0.4 * z[, 5] + 0.3 * z[, 6]
  event_time <- rexp(n, 0.05 * exp(eta))
  censor_time <- runif(n, 0, 80)
  time <- pmax(1, ceiling(pmin(event_time, censor_time)))  # whole months: ties
  event <- as.integer(event_time <= censor_time)
  colnames(x) <- sprintf("f%03d", seq(p))
  foldid <- sample(rep(seq(10), length.out = n))
  list(x = x, time = time, event = event, foldid = foldid)
}

narrow <- simulate(300, 40, 27)
write_answers("narrow", narrow$x, narrow$time, narrow$event, narrow$foldid)

lung_cc <- na.omit(survival::lung[, c("time", "status", "age", "sex", "ph.ecog", "ph.karno", "pat.karno",
                                      "meal.cal", "wt.loss")])
set.seed(28)
write_answers("lung", as.matrix(lung_cc[, -(1:2)]), lung_cc$time, as.integer(lung_cc$status == 2),
              sample(rep(seq(10), length.out = nrow(lung_cc))), time_unit = 365.25)

wide <- simulate(100, 500, 29, whole = TRUE)
# thresh 1e-9, not 1e-13: near the end of a wide path (92 % of the deviance explained) coordinate descent
# converges slowly (1e-11 already takes glmnet 12 s per path); the lambdas that decide the choice converge fast.
write_answers("wide", wide$x, wide$time, wide$event, wide$foldid, thresh = 1e-9)
cat(R.version.string, "glmnet", as.character(packageVersion("glmnet")), "survival",
    as.character(packageVersion("survival")), "\n")
cat("censored:", 1 - mean(narrow$event), 1 - mean(wide$event), "\n")
