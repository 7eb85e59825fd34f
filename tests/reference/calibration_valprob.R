# Known answers for core.stats.calibration (issue 28): rms::val.prob's calibration statistics, calibration-in-
# the-large and the Wald CIs of the logistic recalibration (glm), and the flexible (loess) calibration curve with
# its pointwise band, on three data sets.
# Run from the repository root:  Rscript tests/reference/calibration_valprob.R
# Made with R 4.2.2, rms 6.5-0. Writes tests/reference/calibration_valprob_{data,stats,loess}.csv.
# Datasets:
#   "miscalibrated": seeded, n = 300, predictions too extreme and too high (p = plogis(-0.6 + 1.6 x), truth
#                    plogis(-1 + 1.2 x)): a slope well below 1 and a negative calibration-in-the-large.
#   "ties_extremes": seeded, n = 120, probabilities rounded to 0.01 (many ties: lowess, approx(ties = mean) and
#                    loess neighbourhoods meet them) and three probabilities exactly 0 or 1, which val.prob leaves
#                    out of the logistic calibration (infinite logit) but keeps in Brier, Emax/E90/Eavg and S:z.
#   "few_distinct":  seeded, n = 100, four distinct probabilities: most loess neighbourhoods hold fewer than three
#                    distinct p, where R's loess uses a pseudo-inverse (its warnings are silenced here).
#   "skewed":        seeded, n = 400, 90 % of the probabilities between 0.010 and 0.012, the rest spread to 0.95: in
#                    the tail, loess neighbourhoods hold a tight far-away cluster (ill-conditioned local designs).
#   "sample_fused_test": the sample study's fused model on its 301 test patients (outcome y, probability p),
#                    read from calibration_valprob_sample.csv, which was written with
#                    StudyResults(sample_study()).predictions["fused"] on study.split.test_ids (repr of each float).
# Numbers are written with 17 significant digits; p is read back from the data file so both sides see the same
# doubles.
suppressMessages(library(rms))
options(digits = 17)
fmt <- function(x) sprintf("%.17g", x)

set.seed(2028)
n <- 300
x <- rnorm(n)
miscal <- data.frame(dataset = "miscalibrated", y = rbinom(n, 1, plogis(-1 + 1.2 * x)), p = fmt(plogis(-0.6 + 1.6 * x)))
n <- 120
p <- round(runif(n, 0.02, 0.95), 2)
y <- rbinom(n, 1, p^1.4)
p[1:2] <- 0
p[3] <- 1
y[1] <- 0; y[2] <- 1; y[3] <- 1
ties <- data.frame(dataset = "ties_extremes", y = y, p = fmt(p))
n <- 100
p <- sample(c(0.1, 0.2, 0.35, 0.6), n, replace = TRUE, prob = c(0.4, 0.3, 0.2, 0.1))
few <- data.frame(dataset = "few_distinct", y = rbinom(n, 1, p), p = fmt(p))
p <- c(runif(360, 0.010, 0.012), runif(40, 0.05, 0.95))
skewed <- data.frame(dataset = "skewed", y = rbinom(400, 1, p), p = fmt(p))
sample <- read.csv("tests/reference/calibration_valprob_sample.csv", colClasses = c("integer", "character"))
sample <- data.frame(dataset = "sample_fused_test", y = sample$y, p = sample$p)
write.csv(rbind(miscal, ties, few, skewed, sample), "tests/reference/calibration_valprob_data.csv", row.names = FALSE,
          quote = FALSE)
data <- read.csv("tests/reference/calibration_valprob_data.csv")

stats <- list()
curves <- list()
tight <- glm.control(epsilon = 1e-14, maxit = 100)
# Wald intervals from the information matrix at the estimate. confint.default() takes glm's covariance from the
# IRLS weights of the last iteration's start, one step behind the estimate: ~1e-9 off at the tight tolerance.
wald <- function(fit, level = 0.95) {
  X <- model.matrix(fit)
  mu <- fitted(fit)
  se <- sqrt(diag(solve(crossprod(X, X * (mu * (1 - mu))))))
  unname(cbind(coef(fit) - qnorm(0.5 + level / 2) * se, coef(fit) + qnorm(0.5 + level / 2) * se))
}
for (name in unique(data$dataset)) {
  d <- data[data$dataset == name, ]
  p <- d$p
  y <- d$y
  v <- suppressWarnings(val.prob(p, y, pl = FALSE))
  # val.prob's own lowess errors, reproduced line by line to add E50 (val.prob reports Emax, E90, Eavg only)
  Sm <- lowess(p, y, iter = 0)
  er <- abs(p - approx(Sm, xout = p, ties = mean)$y)
  finite <- is.finite(qlogis(p))
  lp <- qlogis(p[finite])
  yy <- y[finite]
  citl <- glm(yy ~ 1, offset = lp, family = binomial, control = tight)
  recal <- glm(yy ~ lp, family = binomial, control = tight)
  ci_citl <- wald(citl)
  ci_recal <- wald(recal)
  cat(name, ": confint.default vs Wald at the estimate, max |difference| =",
      max(abs(c(confint.default(citl) - ci_citl, confint.default(recal) - ci_recal))), "\n")
  # val.prob's lrm.fit stops at its own tolerance; the tight glm is the reference for Intercept and Slope
  cat(name, ": val.prob vs tight glm, max |difference| in Intercept, Slope = ",
      max(abs(v[c("Intercept", "Slope")] - coef(recal))), "\n")
  values <- c(n = length(y), events = sum(y), citl = unname(coef(citl)), citl_low = ci_citl[1, 1],
              citl_high = ci_citl[1, 2], intercept = unname(coef(recal)[1]), intercept_low = ci_recal[1, 1],
              intercept_high = ci_recal[1, 2], slope = unname(coef(recal)[2]), slope_low = ci_recal[2, 1],
              slope_high = ci_recal[2, 2], valprob_intercept = unname(v["Intercept"]),
              valprob_slope = unname(v["Slope"]), ici = unname(v["Eavg"]), e50 = median(er),
              e90 = unname(v["E90"]), emax = unname(v["Emax"]), spiegelhalter_z = unname(v["S:z"]),
              spiegelhalter_p = unname(v["S:p"]), brier = unname(v["Brier"]))
  stats[[name]] <- data.frame(dataset = name, statistic = names(values), value = fmt(values))

  quiet <- if (name == "few_distinct") suppressWarnings else identity
  fit <- quiet(loess(y ~ p, degree = 2, span = 0.75, family = "gaussian",
                     control = loess.control(surface = "direct", statistics = "exact")))
  grid <- seq(min(p), max(p), length.out = 100)
  pr <- quiet(predict(fit, data.frame(p = grid), se = TRUE))
  half <- qt(0.975, pr$df) * pr$se.fit
  curves[[name]] <- data.frame(dataset = name, predicted = fmt(grid), observed = fmt(pr$fit), se = fmt(pr$se.fit),
                               low = fmt(pr$fit - half), high = fmt(pr$fit + half), df = fmt(pr$df),
                               residual_scale = fmt(pr$residual.scale), one_delta = fmt(fit$one.delta),
                               two_delta = fmt(fit$two.delta), trace_hat = fmt(fit$trace.hat))
}
write.csv(do.call(rbind, stats), "tests/reference/calibration_valprob_stats.csv", row.names = FALSE, quote = FALSE)
write.csv(do.call(rbind, curves), "tests/reference/calibration_valprob_loess.csv", row.names = FALSE, quote = FALSE)
cat(R.version.string, "rms", as.character(packageVersion("rms")), "\n")
