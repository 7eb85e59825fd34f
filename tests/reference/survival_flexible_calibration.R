# Known answers for core.stats.survival.flexible_calibration (issue 28).
# Run from the repository root:  Rscript tests/reference/survival_flexible_calibration.R
# Written with R 4.2.2, survival 3.5-3, rms 6.5-0, Hmisc 5 (versions in survival_flexible_calibration_versions.csv).
#
# Austin, Harrell & van Klaveren (Stat Med 2020) flexible calibration at a horizon t:
#   cll = log(-log(S_pred(t))); fit <- coxph(Surv(time, event) ~ rcs(cll, 3)) (Efron ties, all follow-up);
#   observed risk = 1 - summary(survfit(fit, newdata), times = t)$surv; ICI = mean |observed - predicted|,
#   E50 / E90 = quantile(|.|, c(.5, .9)) (type 7), Emax = max; the curve on seq(q01, q99, length = 100) of the
#   predicted risks with survfit's default (conf.type = "log") pointwise 95 % interval.
# Three data sets, the inputs written to 12 significant digits and read back so that R and Python start from
# the same numbers:
#   "simulated": 400 patients, times with ties, a miscalibrated (too extreme, shifted) prediction, t = 10;
#   "small": 60 patients (< 100: rcspline.eval's outer knots at the 5th smallest / largest value) with 12 % of
#            the predicted risks tied at their lowest value (rcspline.eval's fractied rule gives that value its own knot);
#   "sample": the survival sample (sample_data/): a Cox model (age, thickness, log CEA, cT) fitted on the 1001
#            sample patients predicts S(36 months) of the 300 external patients (sample_data/external).
suppressMessages({library(rms); library(survival)})
path <- function(name) sprintf("tests/reference/survival_flexible_calibration_%s.csv", name)

simulated <- local({
  set.seed(20261206)
  n <- 400
  x <- rnorm(n)
  event_time <- rexp(n, rate = exp(0.8 * x) / 10)
  censor_time <- runif(n, 2, 30)
  time <- pmax(round(pmin(event_time, censor_time), 1), 0.1)   # one decimal: ties
  pred <- exp(-exp(1.2 * x + 0.2))                             # S(10): too extreme and too high a risk
  data.frame(set = "simulated", horizon = 10, time = time, event = as.integer(event_time <= censor_time),
             pred = signif(pred, 12))
})

small <- local({
  set.seed(7)
  n <- 60
  x <- rnorm(n)
  event_time <- rexp(n, rate = exp(0.7 * x) / 8)
  censor_time <- runif(n, 3, 25)
  time <- round(pmin(event_time, censor_time), 2)
  lp <- pmax(0.9 * x, -1.0)                                    # clipped: the lowest prediction is tied
  lp[order(x)[1:7]] <- -1.0                                    # 7 of 60 (> 5 %) share it
  pred <- exp(-0.6 * exp(lp))                                  # S(6)
  data.frame(set = "small", horizon = 6, time = time, event = as.integer(event_time <= censor_time),
             pred = signif(pred, 12))
})

sample <- local({
  read <- function(folder) {
    clinical <- read.csv(file.path(folder, "clinical.csv"))
    merge(clinical, read.csv(file.path(folder, "survival.csv")), by = "patient_id", sort = TRUE)
  }
  train <- read("sample_data")
  external <- read("sample_data/external")
  stages <- sort(unique(train$ct_stage))
  train$ct_stage <- factor(train$ct_stage, levels = stages)
  external$ct_stage <- factor(external$ct_stage, levels = stages)
  model <- coxph(Surv(os_months, death) ~ age + tumour_thickness_mm + log(cea_ng_ml) + ct_stage, data = train)
  pred <- summary(survfit(model, newdata = external), times = 36)$surv[1, ]
  data.frame(set = "sample", horizon = 36, time = external$os_months, event = external$death,
             pred = signif(pred, 12))
})

write.csv(rbind(simulated, small, sample), path("data"), row.names = FALSE)
data <- read.csv(path("data"))

knots_rows <- list(); summary_rows <- list(); patient_rows <- list(); curve_rows <- list()
for (name in unique(data$set)) {
  d <- data[data$set == name, ]
  horizon <- d$horizon[1]
  risk <- 1 - d$pred
  d$cll <- log(-log(d$pred))
  fit <- coxph(Surv(time, event) ~ rcs(cll, 3), data = d, ties = "efron",
               control = coxph.control(eps = 1e-10, iter.max = 100))
  knots <- attr(rcs(d$cll, 3), "parms")
  # the same fit with the knots given: survfit(newdata) must reuse the training knots (rms's makepredictcall)
  fixed <- coxph(Surv(time, event) ~ rcs(cll, knots), data = d, ties = "efron",
                 control = coxph.control(eps = 1e-10, iter.max = 100))
  own <- summary(survfit(fit, newdata = d), times = horizon)
  stopifnot(max(abs(own$surv - summary(survfit(fixed, newdata = d), times = horizon)$surv)) < 1e-12)
  observed <- 1 - as.numeric(own$surv)
  difference <- abs(observed - risk)
  grid <- seq(quantile(risk, 0.01), quantile(risk, 0.99), length = 100)
  band <- summary(survfit(fit, newdata = data.frame(cll = log(-log(1 - grid)))), times = horizon)
  knots_rows[[name]] <- data.frame(set = name, knot = knots)
  summary_rows[[name]] <- data.frame(set = name, horizon = horizon, n = nrow(d),
                                     events = sum(d$event == 1 & d$time <= horizon), ici = mean(difference),
                                     e50 = unname(quantile(difference, 0.5)), e90 = unname(quantile(difference, 0.9)),
                                     emax = max(difference), loglik = fit$loglik[2])
  patient_rows[[name]] <- data.frame(set = name, observed = observed)
  curve_rows[[name]] <- data.frame(set = name, predicted = grid, observed = 1 - as.numeric(band$surv),
                                   low = 1 - as.numeric(band$upper), high = 1 - as.numeric(band$lower))
}
# write.csv keeps 15 significant digits: the answers are written with 17
write17 <- function(frame, name) {
  numeric <- vapply(frame, is.numeric, logical(1))
  frame[numeric] <- lapply(frame[numeric], function(v) sprintf("%.17g", v))
  write.csv(frame, path(name), row.names = FALSE, quote = FALSE)
}
write17(do.call(rbind, knots_rows), "knots")
write17(do.call(rbind, summary_rows), "summary")
write17(do.call(rbind, patient_rows), "patients")
write17(do.call(rbind, curve_rows), "curve")

# rms::rcs(x, 3)'s knots (Hmisc::rcspline.eval, fractied = 0.05) on the branches of its rules: few distinct
# values (the interior values), ties at the top or at both ends (their own knots), n < 100 and n >= 100.
set.seed(11)
knot_cases <- list(
  few = c(rep(1, 4), rep(2, 6), rep(3, 9), rep(4, 3), rep(5, 8)),
  top_tied = c(round(rnorm(70), 3), rep(2.5, 10)),
  both_tied = c(rep(-3, 12), round(runif(90, -2, 2), 4), rep(3, 15)),
  under_100 = round(rexp(40), 4),
  over_100 = round(rnorm(250, 1, 2), 5))
write.csv(data.frame(case = rep(names(knot_cases), lengths(knot_cases)), x = unlist(knot_cases)),
          path("rcs_data"), row.names = FALSE)
write17(do.call(rbind, lapply(names(knot_cases), function(name)
  data.frame(case = name, knot = suppressWarnings(attr(rcs(knot_cases[[name]], 3), "parms"))))), "rcs_knots")

write.csv(data.frame(package = c("R", "survival", "rms", "Hmisc"),
                     version = c(R.version.string, as.character(packageVersion("survival")),
                                 as.character(packageVersion("rms")), as.character(packageVersion("Hmisc")))),
          path("versions"), row.names = FALSE)
