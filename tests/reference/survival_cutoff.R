# Known answers for core.stats.survival.cutoff_metrics (sensitivity, specificity, PPV, NPV at a cut-off).
# Run from the repository root:  Rscript tests/reference/survival_cutoff.R
# Made with R 4.2.2, prodlim 2019.11.13, survival 3.5-3.
#
# timeROC (0.4) is not installed here, so its SeSpPPVtimeROC(cutpoint, T, delta, marker, cause = 1,
# weighting = "marginal", times, iid = FALSE) is reproduced line by line from its R/SeSpPPVNPV.R, with the
# weights pec::ipcw(method = "marginal", subjectTimesLag = 1) computes (pec is not installed either):
# prodlim(Hist(time, status) ~ 1, reverse = TRUE), predict(..., times) for the controls' G(t) and
# predictSurvIndividual(fit, lag = 1) for the cases' G(T_i-).
# Data written beside this script: survival_cutoff_data.csv (n = 300, seeded, times in whole months so that
# events fall exactly on the horizons, ~40 % censored, a risk score rounded to 0.1 so that risks tie with the
# cut-offs). Answers: survival_cutoff_answers.csv (cutoff, horizon, TP, FP, PPV, NPV, cases, controls).
suppressMessages({library(prodlim); library(survival)})
set.seed(27)
n <- 300
x <- round(rnorm(n), 1)
event_time <- ceiling(rexp(n, 0.03 * exp(0.7 * x)))
censor <- ceiling(runif(n, 6, 90))
data <- data.frame(time = pmin(event_time, censor), event = as.integer(event_time <= censor), risk = x)
write.csv(data, "tests/reference/survival_cutoff_data.csv", row.names = FALSE)

sespppv <- function(cutpoint, T, delta, marker, times) {
  n <- length(T)
  o <- order(T)
  T <- T[o]; delta <- delta[o]; marker <- marker[o]
  fit <- prodlim(Hist(failure_time, status) ~ 1, data = data.frame(failure_time = T, status = delta),
                 reverse = TRUE)
  ipcw_times <- predict(fit, times = times, level.chaos = 1, mode = "matrix", type = "surv")
  ipcw_subject <- predictSurvIndividual(fit, lag = 1)
  w_cases_all <- 1 / (ipcw_subject * n)
  rows <- NULL
  for (k in seq_along(times)) {
    t <- times[k]
    cases <- T < t & delta == 1
    controls <- T > t
    w_controls <- rep(1 / (ipcw_times[k] * n), n)
    w_cases <- w_cases_all
    w_cases[!cases] <- 0
    w_controls[!controls] <- 0
    den_tp <- sum(w_cases); den_fp <- sum(w_controls)
    pos <- marker > cutpoint
    den_ppv <- sum(w_cases[pos] + w_controls[pos])
    den_npv <- sum(w_cases[!pos] + w_controls[!pos])
    tp <- sum(w_cases[pos]) / den_tp
    fp <- sum(w_controls[pos]) / den_fp
    rows <- rbind(rows, data.frame(cutoff = cutpoint, horizon = t, TP = tp, FP = fp,
                                   PPV = tp * den_tp / den_ppv, NPV = (1 - fp) * den_fp / den_npv,
                                   cases = sum(cases), controls = sum(controls)))
  }
  rows
}
answers <- rbind(sespppv(median(data$risk), data$time, data$event, data$risk, c(12, 24, 36, 60)),
                 sespppv(0.5, data$time, data$event, data$risk, c(12, 24, 36, 60)))
write.csv(answers, "tests/reference/survival_cutoff_answers.csv", row.names = FALSE)
