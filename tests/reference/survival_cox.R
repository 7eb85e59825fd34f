# Known answers for core.stats.survival.kaplan_meier and core.stats.survival.cox (issue 27).
# Run from the repository root:  Rscript tests/reference/survival_cox.R
# Made with R 4.2.2, survival 3.5-3, prodlim 2019.11.13. Writes tests/reference/survival_cox_*.csv.
# Datasets:
#   "synth": seeded synthetic cohort (n = 300, times rounded to whole months, so many ties; 10 predictors, a
#            3-level group); written to survival_cox_synth_data.csv.
#   "lung":  survival::lung complete cases for age, sex, ph.ecog (status recoded 1 = death); written to
#            survival_cox_lung_data.csv.
#   "half", "half_end": tiny curves where S(t) is exactly 0.5 (survival's midpoint rule for the median).
#   "sts_ct": the real sarcoma table (../shared/data/sts_ct/tables/clinical_outcome.csv, CC BY 3.0; overall
#            survival in days, event = status "D"), only when that folder exists; its data are not copied here
#            (rerun with the folder present, or the CSVs lose the sts_ct rows that the tests read).
# Cox fits use coxph's Efron ties with a tight convergence (eps 1e-12) so that coefficients compare to many digits.
suppressMessages({library(survival); library(prodlim)})
out <- function(x, name) write.csv(x, sprintf("tests/reference/survival_cox_%s.csv", name), row.names = FALSE)
ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 50)

set.seed(20271)
n <- 300
z <- matrix(rnorm(n * 10), n, 10)
synth <- data.frame(x1 = round(z[, 1], 4), x2 = as.integer(z[, 2] > 0.3), x3 = round(exp(z[, 3] / 2), 4))
for (j in 4:10) synth[[sprintf("f%02d", j)]] <- round(z[, j] + 0.4 * z[, 1], 4)
eta <- 0.7 * synth$x1 - 0.6 * synth$x2 + 0.3 * synth$x3 + 0.25 * synth$f04
event_time <- rexp(n, 0.03 * exp(eta))
censor_time <- runif(n, 6, 72)
synth$time <- pmax(1, ceiling(pmin(event_time, censor_time)))   # whole months: ties
synth$event <- as.integer(event_time <= censor_time)
synth$group <- c("a", "b", "c")[1 + (synth$x1 > -0.4) + (synth$x1 > 0.5)]
synth <- synth[, c("time", "event", setdiff(names(synth), c("time", "event")))]
out(synth, "synth_data")

lung_cc <- na.omit(survival::lung[, c("time", "status", "age", "sex", "ph.ecog")])
lung_cc <- data.frame(time = lung_cc$time, event = as.integer(lung_cc$status == 2), age = lung_cc$age,
                      sex = lung_cc$sex, ph.ecog = lung_cc$ph.ecog)
out(lung_cc, "lung_data")

data_sets <- list(synth = list(d = synth, terms = c("x1", "x2", "x3"), group = "group", times = c(12, 36, 60)),
                  lung = list(d = lung_cc, terms = c("age", "sex", "ph.ecog"), group = "ph.ecog",
                              times = c(180, 365, 730)))
sts_file <- "../shared/data/sts_ct/tables/clinical_outcome.csv"
if (file.exists(sts_file)) {
  sts <- read.csv(sts_file)
  sts <- data.frame(time = sts$days_dx_to_last_fu, event = as.integer(sts$status == "D"), age = sts$age,
                    male = as.integer(sts$sex == "Male"), group = sts$sex)
  data_sets$sts_ct <- list(d = sts, terms = c("age", "male"), group = "group", times = c(365, 1095, 1825))
}
data_sets$half <- list(d = data.frame(time = 1:6, event = c(1, 1, 1, 0, 1, 0)), times = c(3, 4, 5))
data_sets$half_end <- list(d = data.frame(time = 1:4, event = c(1, 1, 0, 0)), times = c(1, 2, 5))

km_rows <- list(); km_full <- list(); medians <- list(); logrank <- list(); coefs <- list(); tests <- list()
vars <- list(); base <- list(); pred <- list(); zph <- list()
for (name in names(data_sets)) {
  ds <- data_sets[[name]]; d <- ds$d
  km <- survfit(Surv(time, event) ~ 1, data = d)
  # times asked: the three horizons, one before the first time and one past the last follow-up
  at <- sort(unique(c(ds$times, 0.5, max(d$time) + 10)))
  s <- summary(km, times = at, extend = TRUE)
  km_rows[[name]] <- data.frame(dataset = name, time = s$time, n_risk = s$n.risk, n_event = s$n.event,
                                survival = s$surv, std_err = s$std.err, lower = s$lower, upper = s$upper)
  km_full[[name]] <- data.frame(dataset = name, time = km$time, n_risk = km$n.risk, n_event = km$n.event,
                                n_censor = km$n.censor, survival = km$surv, std_err_log = km$std.err,
                                lower = km$lower, upper = km$upper)
  q <- quantile(km, 0.5)
  rev_km <- survfit(Surv(time, 1 - event) ~ 1, data = d)
  rq <- quantile(rev_km, 0.5)
  # prodlim's own interval differs from survfit's (another variance); only its median is compared
  pq <- quantile(prodlim(Hist(time, event) ~ 1, data = d, reverse = TRUE), 0.5)$quantiles.survival
  medians[[name]] <- data.frame(dataset = name, what = c("km", "reverse_km", "prodlim_reverse"),
                                median = c(q$quantile, rq$quantile, pq$quantile),
                                lower = c(q$lower, rq$lower, pq$lower), upper = c(q$upper, rq$upper, pq$upper))
  if (is.null(ds$terms)) next
  sd <- survdiff(Surv(time, event) ~ d[[ds$group]], data = d)
  logrank[[name]] <- data.frame(dataset = name, group = sub(".*=", "", names(sd$n)), n = as.vector(sd$n),
                                observed = sd$obs, expected = sd$exp, chisq = sd$chisq,
                                df = length(sd$n) - 1, p = pchisq(sd$chisq, length(sd$n) - 1, lower.tail = FALSE))
  f <- coxph(as.formula(paste("Surv(time, event) ~", paste(ds$terms, collapse = " + "))), data = d,
             ties = "efron", control = ctl)
  sm <- summary(f)
  coefs[[name]] <- data.frame(dataset = name, term = names(coef(f)), coef = coef(f), se = sqrt(diag(vcov(f))),
                              z = sm$coefficients[, "z"], p = sm$coefficients[, "Pr(>|z|)"],
                              HR_lower = sm$conf.int[, "lower .95"], HR_upper = sm$conf.int[, "upper .95"])
  tests[[name]] <- data.frame(dataset = name, n = f$n, n_events = f$nevent, loglik_null = f$loglik[1],
                              loglik = f$loglik[2], lr = sm$logtest[["test"]], lr_p = sm$logtest[["pvalue"]],
                              wald = f$wald.test, wald_p = pchisq(f$wald.test, length(coef(f)), lower.tail = FALSE),
                              score = sm$sctest[["test"]], score_p = sm$sctest[["pvalue"]])
  v <- vcov(f)
  vars[[name]] <- data.frame(dataset = name, row = rep(rownames(v), ncol(v)), col = rep(colnames(v), each = nrow(v)),
                             value = as.vector(v))
  # baseline: the curve at the covariate means (R's default newdata), as survfit(fit)
  sb <- summary(survfit(f), times = ds$times)
  base[[name]] <- data.frame(dataset = name, time = sb$time, cumhaz = sb$cumhaz, survival = sb$surv,
                             std_err = sb$std.err, lower = sb$lower, upper = sb$upper)
  newdata <- d[c(1, 2, 3, 10, 20), ds$terms, drop = FALSE]
  sp <- summary(survfit(f, newdata = newdata), times = ds$times)
  pred[[name]] <- data.frame(dataset = name, patient = rep(1:5, each = length(sp$time)), row = rep(c(1, 2, 3, 10, 20),
                             each = length(sp$time)), time = rep(sp$time, 5), survival = as.vector(sp$surv),
                             std_err = as.vector(sp$std.err), lower = as.vector(sp$lower),
                             upper = as.vector(sp$upper), lp = rep(predict(f, newdata, type = "lp"),
                                                                  each = length(sp$time)))
  zt <- cox.zph(f)$table
  zph[[name]] <- data.frame(dataset = name, term = rownames(zt), chisq = zt[, "chisq"], df = zt[, "df"],
                            p = zt[, "p"])
}
bind <- function(x) do.call(rbind, unname(x))
out(bind(km_rows), "km"); out(bind(km_full), "km_full"); out(bind(medians), "median")
out(bind(logrank), "logrank"); out(bind(coefs), "coef"); out(bind(tests), "tests"); out(bind(vars), "var")
out(bind(base), "baseline"); out(bind(pred), "predict"); out(bind(zph), "zph")

# univariable screening: every predictor of "synth" alone (coxph one by one), Wald and likelihood-ratio p
uni <- list()
for (term in setdiff(names(synth), c("time", "event", "group"))) {
  f <- coxph(as.formula(paste("Surv(time, event) ~", term)), data = synth, ties = "efron", control = ctl)
  sm <- summary(f)
  uni[[term]] <- data.frame(feature = term, coef = coef(f), se = sqrt(vcov(f)[1, 1]),
                            p_wald = sm$coefficients[, "Pr(>|z|)"], p_lr = sm$logtest[["pvalue"]])
}
out(bind(uni), "univariable")

# Breslow ties on lung: coefficients, standard errors, and survfit's (uncorrected, ctype 1) curve for 5 patients
fb <- coxph(Surv(time, event) ~ age + sex + ph.ecog, data = lung_cc, ties = "breslow", control = ctl)
sb <- summary(survfit(fb, newdata = lung_cc[c(1, 2, 3, 10, 20), ]), times = c(180, 365, 730))
out(rbind(data.frame(what = "coef", key = names(coef(fb)), value = coef(fb)),
          data.frame(what = "se", key = names(coef(fb)), value = sqrt(diag(vcov(fb)))),
          data.frame(what = "loglik", key = c("null", "fit"), value = fb$loglik),
          data.frame(what = "survival", key = "", value = as.vector(sb$surv)),
          data.frame(what = "std_err", key = "", value = as.vector(sb$std.err))), "breslow")

# monotone likelihood: x = 1 patients all fail before any x = 0 patient; coxph warns the coefficient is infinite
mono <- data.frame(time = c(1, 2, 3, 4, 5, 6, 7, 8), event = c(1, 1, 1, 0, 1, 0, 1, 0), x = c(1, 1, 1, 1, 0, 0, 0, 0))
warned <- ""
invisible(withCallingHandlers(coxph(Surv(time, event) ~ x, data = mono),
                    warning = function(w) { warned <<- conditionMessage(w); invokeRestart("muffleWarning") }))
out(data.frame(warning = warned), "monotone_warning")
