# The smooth calibration curve of rms::val.prob: lowess(p, y, iter = 0) with R's default delta (1 % of the
# range of p). Deterministic inputs (no RNG), reproduced in tests/core/test_scale.py.
# Rscript tests/reference/r_lowess_val_prob.R  (R 4.x; writes r_lowess_val_prob.csv next to this script)
i <- 1:400
p <- ((i * 0.6180339887) %% 1) * 0.9 + 0.05
y <- as.numeric((p + ((i * 0.7548776662) %% 1)) > 1)
smooth <- lowess(p, y, iter = 0)
write.csv(data.frame(x = smooth$x, y = smooth$y), "tests/reference/r_lowess_val_prob.csv", row.names = FALSE)
