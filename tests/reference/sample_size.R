# Known answers for core.stats.sample_size (issue 28): the C-statistic -> Cox-Snell R^2 conversion of Riley,
# Van Calster and Collins (Stat Med 2021) as pmsampsize 1.1.x computes it, its large-sample limit, and the sample
# sizes pmsampsize reports for a C-statistic.
# Run from the repository root:  Rscript tests/reference/sample_size.R     (under a minute: two glm fits on 10^6 rows per case)
# Made with R 4.2.2 and rms 6.5-0. Writes tests/reference/sample_size_cstatistic.csv.
#
# pmsampsize itself is not installed here, so its two pieces are restated below from its source (pmsampsize 1.1.x,
# R/cstat2rsq.R and R/pmsampsize_bin.R, Ensor, Martin & Riley; GPL >= 3), unchanged in what they compute:
#   cstat2rsq: one million linear predictors, N(0, 1) for a fraction `prevalence` and N(mu, 1) for the rest,
#              mu = sqrt(2) qnorm(C), set.seed(seed) first (default 123456); the likelihood-ratio R^2 of glm(y ~ LP).
#              pmsampsize rounds it to 4 decimals before use.
#   criteria 1-3 of pmsampsize_bin (no rounding since 1.1.1).
# The published criteria (no C-statistic: pmsampsize's testthat files and documented examples) are written straight
# into tests/core/test_sample_size.py, each with its source.
#
# Also, per (C, prevalence): the same R^2's large-sample limit 1 - exp(-2 I), I the mutual information between the
# outcome and the linear predictor, by R's integrate() (an independent implementation of what
# core.stats.sample_size.cstatistic_to_rsquared computes with scipy's quad: the two agree to ~1e-9), and
# Riley et al.'s own approximate_R2 (the paper's appendix: lrm's Nagelkerke R^2 x its maximum) at set.seed(1234).
suppressMessages(library(rms))

cstat2rsq <- function(cstatistic, prevalence, seed = 123456) {
  n <- 1000000
  mu <- sqrt(2) * qnorm(cstatistic)
  set.seed(seed)
  LP <- c(rnorm(prevalence * n, mean = 0, sd = 1), rnorm((1 - prevalence) * n, mean = mu, sd = 1))
  y <- c(rep(0, prevalence * n), rep(1, (1 - prevalence) * n))
  model <- glm(y ~ LP, family = binomial)
  as.numeric(1 - exp(-1 * (model$null.deviance - model$deviance) / n))
}

approximate_R2 <- function(auc, prev, n = 1000000) {
  mu <- sqrt(2) * qnorm(auc)
  LP <- c(rnorm(prev * n, mean = 0, sd = 1), rnorm((1 - prev) * n, mean = mu, sd = 1))
  y <- c(rep(0, prev * n), rep(1, (1 - prev) * n))
  fit <- lrm(y ~ LP)
  max_R2 <- function(prev) 1 - (prev^prev * (1 - prev)^(1 - prev))^2
  as.numeric(fit$stats["R2"]) * max_R2(prev)
}

limit_rsq <- function(cstatistic, prevalence) {
  mu <- sqrt(2) * qnorm(cstatistic)
  w <- c(prevalence, 1 - prevalence)
  integrand <- function(x) {
    lf0 <- dnorm(x, 0, 1, log = TRUE) + log(w[1])
    lf1 <- dnorm(x, mu, 1, log = TRUE) + log(w[2])
    m <- pmax(lf0, lf1)
    lmix <- m + log(exp(lf0 - m) + exp(lf1 - m))
    exp(lf0) * (lf0 - lmix) + exp(lf1) * (lf1 - lmix)
  }
  # split at the two means, as the Python side does
  pieces <- sort(c(-12, 0, mu, mu + 12))
  expected <- sum(sapply(seq_len(3), function(i)
    integrate(integrand, pieces[i], pieces[i + 1], rel.tol = 1e-12, abs.tol = 1e-14, subdivisions = 1000L)$value))
  information <- expected - sum(w * log(w))
  -expm1(-2 * information)
}

pmsampsize_bin_n <- function(rsquared, parameters, prevalence, shrinkage = 0.9) {
  n1 <- ceiling(parameters / ((shrinkage - 1) * log(1 - rsquared / shrinkage)))
  E1 <- n1 * prevalence
  lnLnull <- E1 * log(E1 / n1) + (n1 - E1) * log(1 - E1 / n1)
  max_r2a <- 1 - exp(2 * lnLnull / n1)
  s2 <- rsquared / (rsquared + 0.05 * max_r2a)
  n2 <- ceiling(parameters / ((s2 - 1) * log(1 - rsquared / s2)))
  n3 <- ceiling((1.96 / 0.05)^2 * prevalence * (1 - prevalence))
  c(n1, n2, n3, max(n1, n2, n3))
}

# (C, prevalence, parameters): pmsampsize's README example (0.89, 0.174, 24), Riley et al. 2021's example
# (0.81, 0.77), and a spread of the values a radiomics study meets.
cases <- data.frame(cstatistic = c(0.89, 0.81, 0.75, 0.80, 0.90, 0.70),
                    prevalence = c(0.174, 0.77, 0.2, 0.05, 0.4, 0.287),
                    parameters = c(24, 10, 12, 20, 30, 15))
rows <- lapply(seq_len(nrow(cases)), function(i) {
  cc <- cases$cstatistic[i]; p <- cases$prevalence[i]; k <- cases$parameters[i]
  simulated <- cstat2rsq(cc, p)
  used <- round(simulated, 4)
  n <- pmsampsize_bin_n(used, k, p)
  set.seed(1234)
  riley <- approximate_R2(cc, p)
  data.frame(cstatistic = cc, prevalence = p, parameters = k,
             rsq_limit = sprintf("%.15g", limit_rsq(cc, p)),
             rsq_pmsampsize = sprintf("%.15g", simulated), rsq_pmsampsize_used = used,
             rsq_riley2021 = sprintf("%.15g", riley),
             n1 = n[1], n2 = n[2], n3 = n[3], n_final = n[4])
})
write.csv(do.call(rbind, rows), "tests/reference/sample_size_cstatistic.csv", row.names = FALSE, quote = FALSE)
