# Known answers for core.modeling.fit_logistic: R's glm(binomial) on the sample study's clinical table.
# Run from the repository root:  Rscript tests/reference/glm_logistic.R
d <- read.csv("sample_data/clinical.csv")
d$cea_high <- as.integer(d$cea_ng_ml > 5)
fit <- glm(lm ~ tumour_thickness_mm + cea_high + log(ca19_9_u_ml), data = transform(d), family = binomial)
s <- summary(fit)$coefficients
ci <- exp(confint.default(fit))
out <- data.frame(term = rownames(s), coef = s[, 1], se = s[, 2], p_value = s[, 4],
                  or_lower = ci[, 1], or_upper = ci[, 2], loglik = as.numeric(logLik(fit)))
write.csv(out, "tests/reference/glm_logistic.csv", row.names = FALSE)
cat(R.version.string, "\n")
