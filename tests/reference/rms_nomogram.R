# Known answers for core.stats.modeling.Nomogram: R rms::nomogram on the sample study's clinical
# table (all 1001 rows): points per axis, the linear-predictor, total-points and risk axes; and R's
# pretty() for the axis ticks. Last run with R 4.2.2 and rms 6.5.0.
# Run from the repository root:  Rscript tests/reference/rms_nomogram.R
suppressMessages(library(rms))
d <- read.csv("sample_data/clinical.csv")
dd <- datadist(d); options(datadist = "dd")
fit <- lrm(lm ~ tumour_thickness_mm + cea_ng_ml + ca19_9_u_ml + sex + her2 + cn_stage, data = d)
nom <- nomogram(fit, fun = plogis)
axes <- do.call(rbind, lapply(c("tumour_thickness_mm", "cea_ng_ml", "ca19_9_u_ml", "sex", "her2", "cn_stage"), function(v)
  data.frame(predictor = v, value = as.character(nom[[v]][[v]]), points = nom[[v]]$points)))
write.csv(axes, "tests/reference/rms_nomogram_axes.csv", row.names = FALSE)
write.csv(data.frame(points = nom$lp$x, lp = nom$lp$x.real, sc = attr(nom, "info")$sc),
          "tests/reference/rms_nomogram_lp.csv", row.names = FALSE)
ranges <- list(c(0, 1), c(4.6, 48.3), c(0.07, 1234.5), c(-3.2, 7.9), c(0.2, 0.21), c(12, 13), c(-1e-3, 5e-3),
               c(100, 1000), c(0, 0))
write.csv(do.call(rbind, lapply(ranges, function(r) data.frame(low = r[1], high = r[2],
          ticks = paste(format(pretty(r, n = 10), digits = 15), collapse = ";")))),
          "tests/reference/r_pretty.csv", row.names = FALSE)
cat(R.version.string, "rms", as.character(packageVersion("rms")), "\n")

# Total-points and risk axes (nomogram(): lp.at = pretty(range(fit$linear.predictors), 10);
# total.points = pretty(c(0, max(100, sc * max(lp.at - Intercept))), 10); a fun axis at fun.at,
# placed by inverting fun over lp.at's range). Model A is the fit above; model B has a 5-level
# categorical (age band) and the other clinical factors. fun.at is RadNomo's default risk ticks.
risks <- c(.01, .05, seq(.1, .9, by = .1), .95, .99)
d$age_band <- as.character(cut(d$age, c(0, 44, 54, 64, 74, 200),
                               labels = c("18-44", "45-54", "55-64", "65-74", "75-99")))
dd <- datadist(d); options(datadist = "dd")
fit_b <- lrm(lm ~ age_band + location + ct_stage + differentiation + lauren + her2, data = d)
totals <- NULL; riskaxes <- NULL
for (m in list(list(name = "A", fit = fit), list(name = "B", fit = fit_b))) {
  n1 <- nomogram(m$fit, fun = plogis, fun.at = risks)
  n0 <- nomogram(m$fit, fun = plogis)  # rms's own default fun.at, for the record
  info <- attr(n1, "info")
  totals <- rbind(totals, data.frame(model = m$name, axis = "total_points", value = n1$total.points$x,
                                     points = n1$total.points$x, sc = info$sc, intercept = unname(info$Intercept)),
                  data.frame(model = m$name, axis = "lp", value = n1$lp$x.real, points = n1$lp$x,
                             sc = info$sc, intercept = unname(info$Intercept)))
  riskaxes <- rbind(riskaxes, data.frame(model = m$name, fun_at = "radnomo", risk = n1[[length(n1)]]$x.real,
                                         points = n1[[length(n1)]]$x),
                    data.frame(model = m$name, fun_at = "rms_default", risk = n0[[length(n0)]]$x.real,
                               points = n0[[length(n0)]]$x))
}
axes_b <- do.call(rbind, lapply(c("age_band", "location", "ct_stage", "differentiation", "lauren", "her2"),
  function(v) data.frame(predictor = v, value = as.character(n1[[v]][[v]]), points = n1[[v]]$points)))
write.csv(totals, "tests/reference/rms_nomogram_total.csv", row.names = FALSE)
write.csv(riskaxes, "tests/reference/rms_nomogram_risk.csv", row.names = FALSE)
write.csv(axes_b, "tests/reference/rms_nomogram_axes_b.csv", row.names = FALSE)
