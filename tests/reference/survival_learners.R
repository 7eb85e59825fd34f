# Known answers for core.stats.learners.cox (issue 27): the Cox learners against R.
# Run from the repository root:  Rscript tests/reference/survival_learners.R
# Made with R 4.2.2, survival 3.5-3, glmnet 4.1-6. Reads tests/reference/survival_cox_synth_data.csv (written by
# survival_cox.R) and writes tests/reference/survival_learners_*.csv:
#   _coef.csv:    coxph(Surv(time, event) ~ x1 + x3 + group), group a factor (levels a, b, c; a = reference),
#                 Efron ties: coefficients, standard errors, Wald p, 95 % HR limits;
#   _predict.csv: summary(survfit(that fit, newdata = rows 1, 2, 3, 10, 20), times = c(12, 36, 60));
#   _zph.csv:     cox.zph(that fit) (one row per design column: terms = FALSE);
#   _lasso.csv:   a LASSO-Cox (glmnet family = "cox" on x1, x3, f04..f10) at its 15th lambda: the coefficients
#                 (original scale) and glmnet's survfit.coxnet survival for the same rows at the same times.
suppressMessages({library(survival); library(glmnet)})
out <- function(x, name) write.csv(x, sprintf("tests/reference/survival_learners_%s.csv", name), row.names = FALSE)
ctl <- coxph.control(eps = 1e-12, toler.chol = 1e-14, iter.max = 50)
d <- read.csv("tests/reference/survival_cox_synth_data.csv")
d$group <- factor(d$group, levels = c("a", "b", "c"))
rows <- c(1, 2, 3, 10, 20)
times <- c(12, 36, 60)

f <- coxph(Surv(time, event) ~ x1 + x3 + group, data = d, ties = "efron", control = ctl)
sm <- summary(f)
out(data.frame(term = names(coef(f)), coef = coef(f), se = sqrt(diag(vcov(f))), p = sm$coefficients[, "Pr(>|z|)"],
               HR_lower = sm$conf.int[, "lower .95"], HR_upper = sm$conf.int[, "upper .95"]), "coef")
sp <- summary(survfit(f, newdata = d[rows, ]), times = times)
out(data.frame(row = rep(rows, each = length(times)), time = rep(sp$time, length(rows)),
               survival = as.vector(sp$surv), lower = as.vector(sp$lower), upper = as.vector(sp$upper)), "predict")
zt <- cox.zph(f, terms = FALSE)$table
out(data.frame(term = rownames(zt), chisq = zt[, "chisq"], df = zt[, "df"], p = zt[, "p"]), "zph")

features <- c("x1", "x3", sprintf("f%02d", 4:10))
x <- as.matrix(d[, features])
y <- Surv(d$time, d$event)
g <- glmnet(x, y, family = "cox")
s <- g$lambda[15]
beta <- as.vector(coef(g, s = s))
sf <- summary(survfit(g, s = s, x = x, y = y, newx = x[rows, ]), times = times)
out(rbind(data.frame(what = "coef", key = features, row = NA, time = NA, value = beta),
          data.frame(what = "survival", key = "", row = rep(rows, each = length(times)),
                     time = rep(sf$time, length(rows)), value = as.vector(sf$surv))), "lasso")
