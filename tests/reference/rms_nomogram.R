# Known answers for core.modeling.Nomogram: R rms::nomogram on the sample study's clinical table
# (all 1001 rows), and R's pretty() for the axis ticks.
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
