# Known answers for core.stats.survival.nomogram / calibration / decision (issue 27).
# Run from the repository root:  Rscript tests/reference/survival_nomogram.R
# Written with R 4.2.2, survival 3.5-3, rms 6.5-0 (versions are printed into survival_nomogram_versions.csv).
#
# 1. A seeded training set (two continuous predictors, one 3-level factor, times in months with ties) fitted by
#    rms::cph(x=TRUE, y=TRUE, surv=TRUE); rms::nomogram with fun = Survival(fit) at 12, 36, 60 months and
#    Quantile(fit) (median survival time), fun.at given: every axis is written out.
#    The baseline is written twice: basehaz(coxph, centered=FALSE) (the module's input) and cph's own surv.
# 2. A seeded external set with the model's predicted survival at 12 and 36 months: calibration at 36 months
#    (5 quantile groups: cut(pred, quantile(pred, 0:5/5), include.lowest=TRUE); Kaplan-Meier per group with
#    survfit's default "log" CI; slope = coxph(Surv ~ log(-log(pred))) coefficient with Wald CI; O/E = (1 - KM)
#    / mean(1 - pred) with CI exp(+-1.96 sqrt(1/events by t)) as McLernon et al. 2023).
# 3. Decision curve at 36 months as dcurves::dca(Surv(time, event) ~ risk, time = 36) computes it (dcurves is
#    not installed here: its .calculate_test_consequences formula is reproduced with survfit, edge cases
#    included: nobody at or above the threshold -> net benefit 0).
suppressMessages({library(rms); library(survival)})
out <- function(x, name) write.csv(x, sprintf("tests/reference/survival_nomogram_%s.csv", name), row.names = FALSE)

simulate <- function(n, seed, beta) {
  set.seed(seed)
  age <- round(rnorm(n, 60, 10), 1)
  size <- round(rlnorm(n, log(5), 0.5), 2)
  grade <- factor(sample(c("low", "mid", "high"), n, replace = TRUE, prob = c(0.4, 0.35, 0.25)),
                  levels = c("low", "mid", "high"))
  lp <- beta[1] * (age - 60) + beta[2] * log(size / 5) + beta[3] * (grade == "mid") + beta[4] * (grade == "high")
  event_time <- rexp(n, rate = exp(lp) / 40)
  censor_time <- runif(n, 20, 90)
  time <- pmax(ceiling(pmin(event_time, censor_time)), 1)  # whole months: many ties
  data.frame(time = time, event = as.integer(event_time <= censor_time), age = age, size = size,
             grade = as.character(grade))
}

train <- simulate(160, 20261206, c(0.04, 0.6, 0.5, 1.1))
out(train, "data")
train$grade <- factor(train$grade, levels = c("low", "mid", "high"))
dd <- datadist(train); options(datadist = "dd")
fit <- cph(Surv(time, event) ~ age + size + grade, data = train, x = TRUE, y = TRUE, surv = TRUE, eps = 1e-10, tol = 1e-13,
           iter.max = 100)  # tight, so that its coefficients equal coxph's to 1e-8
out(data.frame(term = c(names(coef(fit)), "center"), value = c(unname(coef(fit)), fit$center)), "fit")

cox <- coxph(Surv(time, event) ~ age + size + grade, data = train, ties = "efron",
             control = coxph.control(eps = 1e-10, iter.max = 100))
stopifnot(max(abs(coef(cox) - coef(fit))) < 1e-8)
bh <- basehaz(cox, centered = FALSE)
cph_surv <- approx(fit$time, fit$surv, bh$time, method = "constant", f = 0, rule = 2)$y
out(data.frame(time = bh$time, cumhaz = bh$hazard, cph_surv = cph_surv), "baseline")

horizons <- c(12, 36, 60)
surv <- Survival(fit)
med <- Quantile(fit)
fun_at <- c(0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
median_at <- c(6, 12, 24, 36, 48, 60, 72)
funs <- list(function(x) surv(12, x), function(x) surv(36, x), function(x) surv(60, x), function(x) med(lp = x))
nom <- nomogram(fit, fun = funs, fun.at = list(fun_at, fun_at, fun_at, median_at),
                funlabel = c("S12", "S36", "S60", "median"), lp = TRUE)
info <- attr(nom, "info")
rows <- list()
for (v in c("age", "size", "grade")) {
  rows[[v]] <- data.frame(axis = v, value = as.character(nom[[v]][[v]]), points = nom[[v]]$points)
}
rows$total <- data.frame(axis = "total_points", value = as.character(nom$total.points$x), points = nom$total.points$x)
rows$lp <- data.frame(axis = "lp_at", value = format(info$lp.at, digits = 15), points = (info$lp.at - info$Intercept) * info$sc)
for (f in c("S12", "S36", "S60", "median")) {
  rows[[f]] <- data.frame(axis = f, value = as.character(nom[[f]]$x.real), points = nom[[f]]$x)
}
out(do.call(rbind, rows), "axes")
out(data.frame(quantity = c("sc", "Intercept"), value = c(info$sc, info$Intercept)), "scale")

# Survival of three patients at the horizons (Survival() on cph's lp) and their median survival time.
patients <- data.frame(age = c(45, 62.5, 78), size = c(3, 5.5, 12), grade = factor(c("low", "mid", "high"),
                                                                                 levels = levels(train$grade)))
lp_p <- predict(fit, patients)  # centered, as Survival() expects
patient_rows <- data.frame(patient = 1:3, age = patients$age, size = patients$size, grade = as.character(patients$grade),
                           lp = unname(lp_p), S12 = surv(12, lp_p), S36 = surv(36, lp_p), S60 = surv(60, lp_p),
                           median = med(lp = lp_p))
out(patient_rows, "patients")

# --- 2. calibration on an external set --------------------------------------------------------------------
external <- simulate(140, 20261207, c(0.06, 0.9, 0.2, 1.4))
external$grade <- factor(external$grade, levels = c("low", "mid", "high"))
lp_e <- predict(fit, external)
external$pred12 <- as.numeric(surv(12, lp_e))
external$pred36 <- as.numeric(surv(36, lp_e))
external$grade <- as.character(external$grade)
out(external, "external")

t <- 36
g <- 5
cuts <- quantile(external$pred36, seq(0, 1, length.out = g + 1))  # type 7
group <- cut(external$pred36, cuts, include.lowest = TRUE, labels = FALSE)
cal <- do.call(rbind, lapply(seq_len(g), function(k) {
  d <- external[group == k, ]
  s <- summary(survfit(Surv(time, event) ~ 1, data = d), times = t, extend = TRUE)
  data.frame(group = k, n = nrow(d), events = sum(d$event), predicted = mean(d$pred36), observed = s$surv,
             lower = s$lower, upper = s$upper, std_err = s$std.err)
}))
out(cal, "calibration_groups")
cloglog <- log(-log(external$pred36))
slope_fit <- coxph(Surv(time, event) ~ cloglog, data = external, ties = "efron")
km_all <- summary(survfit(Surv(time, event) ~ 1, data = external), times = t)
oe <- (1 - km_all$surv) / mean(1 - external$pred36)
out(data.frame(slope = unname(coef(slope_fit)), slope_se = sqrt(vcov(slope_fit)[1, 1]),
               slope_lower = confint(slope_fit)[1, 1], slope_upper = confint(slope_fit)[1, 2],
               slope_loglik = slope_fit$loglik[2], oe = oe, oe_lower = oe * exp(-qnorm(0.975) * sqrt(1 / km_all$n.event)),
               oe_upper = oe * exp(qnorm(0.975) * sqrt(1 / km_all$n.event)), events_by_t = km_all$n.event,
               observed_risk = 1 - km_all$surv, expected_risk = mean(1 - external$pred36)), "calibration_summary")

# --- 3. decision curve (dcurves::dca formula) ----------------------------------------------------------------
surv_to_risk <- function(time, event, t) {  # dcurves:::.surv_to_risk
  if (length(time) == 0) return(0)          # its tryCatch: no test positive -> 0
  fit <- survfit(Surv(time, event) ~ 1)
  if (max(fit$time) < t) return(NA_real_)
  keep <- fit$time <= t
  if (!any(keep)) return(0)                 # every test positive followed past t without event (dcurves errors)
  1 - fit$surv[max(which(keep))]
}
risk <- 1 - external$pred36
thresholds <- c(seq(0.01, 0.99, by = 0.01))
n <- nrow(external)
prev <- surv_to_risk(external$time, external$event, t)
dca_rows <- do.call(rbind, lapply(thresholds, function(thr) {
  nb <- function(r) {
    pos <- r >= thr
    rate <- sum(pos) / n
    rr <- surv_to_risk(external$time[pos], external$event[pos], t)
    tp <- rr * rate
    fp <- (1 - rr) * rate
    tp - thr / (1 - thr) * fp
  }
  data.frame(threshold = thr, net_benefit = nb(risk), treat_all = nb(rep(1, n)), treat_none = nb(rep(0, n)),
             test_positive_rate = mean(risk >= thr))
}))
out(dca_rows, "decision")

out(data.frame(package = c("R", "survival", "rms"),
               version = c(R.version.string, as.character(packageVersion("survival")),
                           as.character(packageVersion("rms")))), "versions")
