# Known answers for core.stats.outcomes.SurvivalOutcome.summary (Table 1 of a time-to-event cohort): events,
# the median follow-up by reverse Kaplan-Meier with its 95% CI, the range of follow-up, the Kaplan-Meier median
# time to event with its CI and the event-free proportion at the horizons (summary(survfit, times, extend=TRUE)).
# Run from the repository root:  Rscript tests/reference/survival_outcome.R
# Made with R 4.2.2, survival 3.5-3, prodlim 2019.11.13 (the CSV's r_version and survival_version columns say so).
# Two cohorts: R's survival::lung (time in days, status 1/2 recoded to event 0/1; horizons 180, 365, 730 days),
# written to survival_outcome_lung_data.csv, and, when the shared data folder is present, the 51 real sarcoma
# patients of ../shared/data/sts_ct (overall survival: days_dx_to_last_fu, event = status "D"; horizons 365,
# 730, 1095 days; the data are not copied here, only R's answers).
suppressMessages({library(survival); library(prodlim)})
answers <- function(time, event, horizons, cohort) {
  reverse <- survfit(Surv(time, 1 - event) ~ 1)
  fit <- survfit(Surv(time, event) ~ 1)
  qr <- quantile(reverse, 0.5)
  qk <- quantile(fit, 0.5)
  # prodlim's reverse Kaplan-Meier gives the same median follow-up (checked here, not only claimed); its
  # confidence limits are another kind (not survfit's log interval), so only the median is compared
  pl <- prodlim(Hist(time, event) ~ 1, data = data.frame(time = time, event = event), reverse = TRUE)
  stopifnot(abs(quantile(pl, 0.5)[[1]]$quantile - as.numeric(qr$quantile)) < 1e-12)
  at <- summary(fit, times = horizons, extend = TRUE)
  rows <- data.frame(
    cohort = cohort,
    statistic = c("patients", "events", "censored", "follow_up_median", "follow_up_range",
                  "median_time", rep("event_free", length(horizons))),
    horizon = c(rep(NA, 6), horizons),
    estimate = c(length(time), sum(event), sum(1 - event), qr$quantile, NA, qk$quantile, 100 * at$surv),
    lower = c(NA, NA, NA, qr$lower, min(time), qk$lower, 100 * at$lower),
    upper = c(NA, NA, NA, qr$upper, max(time), qk$upper, 100 * at$upper))
  rows$r_version <- paste(R.version$major, R.version$minor, sep = ".")
  rows$survival_version <- as.character(packageVersion("survival"))
  rows
}
here <- "tests/reference"
lung <- survival::lung
data <- data.frame(id = sprintf("L%03d", seq_len(nrow(lung))), time = lung$time, event = as.integer(lung$status == 2))
write.csv(data, file.path(here, "survival_outcome_lung_data.csv"), row.names = FALSE)
out <- answers(data$time, data$event, c(180, 365, 730), "lung")
sts <- "../shared/data/sts_ct/tables/clinical_outcome.csv"
if (file.exists(sts)) {
  s <- read.csv(sts)
  out <- rbind(out, answers(s$days_dx_to_last_fu, as.integer(s$status == "D"), c(365, 730, 1095), "sts"))
}
write.csv(out, file.path(here, "survival_outcome_answers.csv"), row.names = FALSE, na = "")
