# Known answers for core.stats.survival.concordance and core.stats.survival.time_dependent.
# Run from the repository root:  Rscript tests/reference/survival_discrimination.R
# Made with R 4.2.2, survival 3.5-3, riskRegression 2022.11.28, prodlim 2019.11.13.
#
# Two datasets, written beside this script:
#   survival_discrimination_synthetic.csv: n = 400, seeded, time in whole months (many tied times),
#     ~35 % censored, two risk scores rounded to 0.1 (many tied risks), and a model's predicted survival
#     at 6, 12, ..., 60 months (s_6 ... s_60).
#   survival_discrimination_lung.csv: survival::lung (complete cases of age, sex, ph.ecog), time in days,
#     event = status - 1, two Cox linear predictors and the first one's predicted survival at 90 ... 720 days.
# Answers, one CSV per kind (dataset column says which):
#   _concordance.csv   survival::concordance(Surv(time, event) ~ risk, reverse = TRUE) for timewt "n"
#                      (Harrell) and "n/G2" (Uno; with and without ymax = tau): concordance, var and counts.
#   _covariance.csv    the covariance matrix of the two risks' concordances, as concordance(fit1, fit2)
#                      computes it (crossprod of the concordancefit dfbeta; checked against the coxph fits).
#   _auc.csv           riskRegression::Score(metrics = "auc", cens.model = "km", se.fit = TRUE): AUC, se,
#                      lower, upper at each horizon; _auc_contrasts.csv the delta AUC (risk2 - risk1).
#   _roc.csv           Score(metrics = "auc", plots = "ROC")$ROC$plotframe: the time-dependent ROC curve's points
#                      (risk = threshold on the plogis scale, TPR, FPR) of both risks at each horizon.
#   _brier.csv         Score(metrics = "brier", summary = "ibs", null.model = TRUE): Brier, se, lower, upper,
#                      IBS at each time, for the model and the Kaplan-Meier null model.
#   _sts.csv           real data, when ../shared/data is there (not copied here; CC BY 3.0): overall survival
#                      of the 51 STS patients (days_dx_to_last_fu, status == "D") against age: Harrell's and
#                      Uno's C with var, and Score's AUC with se at 365 and 730 days.
suppressMessages({library(survival); library(riskRegression); library(prodlim); library(data.table)})
out <- function(x, name) write.csv(x, sprintf("tests/reference/survival_discrimination_%s.csv", name),
                                   row.names = FALSE)

set.seed(2027)
n <- 400
x1 <- rnorm(n)
x2 <- rbinom(n, 1, 0.4)
lp <- 0.8 * x1 + 0.6 * x2
t_event <- rexp(n, 0.02 * exp(lp))
t_cens <- runif(n, 6, 110)
synthetic <- data.frame(time = pmax(1, ceiling(pmin(t_event, t_cens))), event = as.integer(t_event <= t_cens),
                        risk1 = round(lp, 1), risk2 = round(x1 + rnorm(n, sd = 0.8), 1))
synthetic_times <- seq(6, 60, by = 6)
for (h in synthetic_times) synthetic[[paste0("s_", h)]] <- signif(exp(-0.018 * h * exp(synthetic$risk1)), 12)

lung_cc <- na.omit(survival::lung[, c("time", "status", "age", "sex", "ph.ecog")])
lung_cc$event <- lung_cc$status - 1L
fit_a <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lung_cc, x = TRUE)
fit_b <- coxph(Surv(time, event) ~ age, data = lung_cc)
lung <- data.frame(time = lung_cc$time, event = lung_cc$event, risk1 = signif(unname(fit_a$linear.predictors), 12),
                   risk2 = signif(unname(fit_b$linear.predictors), 12))
lung_times <- seq(90, 720, by = 90)
lung_surv <- 1 - predictRisk(fit_a, newdata = lung_cc, times = lung_times)
for (k in seq_along(lung_times)) lung[[paste0("s_", lung_times[k])]] <- signif(lung_surv[, k], 12)

out(synthetic, "synthetic")
out(lung, "lung")
datasets <- list(synthetic = list(d = synthetic, times = synthetic_times, horizons = c(12, 36, 60), tau = 48),
                 lung = list(d = lung, times = lung_times, horizons = c(180, 365, 720), tau = 600))

conc <- list(); covs <- list(); aucs <- list(); auc_contrasts <- list(); briers <- list(); rocs <- list()
for (name in names(datasets)) {
  d <- datasets[[name]]$d
  times <- datasets[[name]]$times
  predicted_risk <- 1 - as.matrix(d[, paste0("s_", times)])
  tau <- datasets[[name]]$tau
  for (risk in c("risk1", "risk2")) {
    f <- as.formula(paste("Surv(time, event) ~", risk))
    for (setting in list(list(timewt = "n", ymax = NULL), list(timewt = "n/G2", ymax = NULL),
                         list(timewt = "n/G2", ymax = tau))) {
      cf <- concordance(f, data = d, reverse = TRUE, timewt = setting$timewt, ymax = setting$ymax)
      conc[[length(conc) + 1]] <- data.frame(dataset = name, risk = risk, timewt = setting$timewt,
        tau = if (is.null(setting$ymax)) NA else setting$ymax, concordance = cf$concordance, var = cf$var,
        concordant = cf$count[["concordant"]], discordant = cf$count[["discordant"]],
        tied_x = cf$count[["tied.x"]], tied_y = cf$count[["tied.y"]], tied_xy = cf$count[["tied.xy"]])
    }
  }
  for (timewt in c("n", "n/G2")) {
    dfb <- sapply(c("risk1", "risk2"), function(risk) {
      concordance(as.formula(paste("Surv(time, event) ~", risk)), data = d, reverse = TRUE,
                  timewt = timewt, influence = 1)$dfbeta
    })
    vmat <- crossprod(dfb)
    # The same covariance through the documented route: concordance() of two coxph fits.
    f1 <- coxph(Surv(time, event) ~ risk1, data = d)
    f2 <- coxph(Surv(time, event) ~ risk2, data = d)
    stopifnot(all(coef(f1) > 0), all(coef(f2) > 0))
    both <- concordance(f1, f2, timewt = timewt)
    stopifnot(isTRUE(all.equal(unname(both$var), unname(vmat), tolerance = 1e-12)))
    covs[[length(covs) + 1]] <- data.frame(dataset = name, timewt = timewt, v11 = vmat[1, 1], v12 = vmat[1, 2],
                                           v22 = vmat[2, 2], c1 = both$concordance[1], c2 = both$concordance[2])
  }
  # Score wants predicted risks in [0, 1], one column per horizon; the AUC only uses their order, so
  # plogis() of the score (a monotone map that keeps its ties) gives the same AUC as the score.
  horizons <- datasets[[name]]$horizons
  riskmat <- function(r) matrix(plogis(d[[r]]), nrow = nrow(d), ncol = length(horizons))
  sc <- Score(list(risk1 = riskmat("risk1"), risk2 = riskmat("risk2")), formula = Hist(time, event) ~ 1,
              data = data.frame(d), times = horizons, metrics = "auc", cens.model = "km", se.fit = TRUE,
              null.model = FALSE, conservative = FALSE)
  aucs[[name]] <- data.frame(dataset = name, as.data.frame(sc$AUC$score))
  auc_contrasts[[name]] <- data.frame(dataset = name, as.data.frame(sc$AUC$contrasts))
  # The curves themselves, from a separate call so that the answers above stay those of plain Score().
  roc <- Score(list(risk1 = riskmat("risk1"), risk2 = riskmat("risk2")), formula = Hist(time, event) ~ 1,
               data = data.frame(d), times = horizons, metrics = "auc", plots = "ROC", cens.model = "km",
               se.fit = FALSE, null.model = FALSE)
  rocs[[name]] <- data.frame(dataset = name, as.data.frame(roc$ROC$plotframe))
  sb <- Score(list(model = predicted_risk), formula = Hist(time, event) ~ 1, data = data.frame(d), times = times,
              metrics = "brier", summary = "ibs", cens.model = "km", se.fit = TRUE, null.model = TRUE,
              conservative = FALSE)
  briers[[name]] <- data.frame(dataset = name, as.data.frame(sb$Brier$score))
}
out(do.call(rbind, conc), "concordance")
out(do.call(rbind, covs), "covariance")
out(do.call(rbind, aucs), "auc")
out(do.call(rbind, auc_contrasts), "auc_contrasts")
out(do.call(rbind, briers), "brier")
out(do.call(rbind, rocs), "roc")

sts_file <- "../shared/data/sts_ct/tables/clinical_outcome.csv"
if (file.exists(sts_file)) {
  sts <- read.csv(sts_file)
  sts <- data.frame(time = sts$days_dx_to_last_fu, event = as.integer(sts$status == "D"), age = sts$age)
  rows <- lapply(c("n", "n/G2"), function(timewt) {
    cf <- concordance(Surv(time, event) ~ age, data = sts, reverse = TRUE, timewt = timewt)
    data.frame(statistic = paste0("concordance_", timewt), times = NA, estimate = cf$concordance, se = sqrt(cf$var))
  })
  sc <- Score(list(age = matrix(plogis((sts$age - 50) / 10), nrow(sts), 2)), formula = Hist(time, event) ~ 1,
              data = data.frame(sts), times = c(365, 730), metrics = "auc", cens.model = "km", se.fit = TRUE,
              null.model = FALSE, conservative = FALSE)
  auc <- as.data.frame(sc$AUC$score)
  out(rbind(do.call(rbind, rows), data.frame(statistic = "auc", times = auc$times, estimate = auc$AUC, se = auc$se)),
      "sts")
}
