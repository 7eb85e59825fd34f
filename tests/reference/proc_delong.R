# Known answers for core.evaluation: R pROC's AUC, DeLong CI and paired DeLong test, and the Youden
# cut-off. Run from the repository root:  Rscript tests/reference/proc_delong.R
suppressMessages(library(pROC))
set.seed(42)
n <- 160
y <- rbinom(n, 1, 0.35)
a <- round(0.9 * y + rnorm(n), 1)            # rounded: ties within and between classes
b <- round(0.5 * a + 0.6 * y + rnorm(n), 1)  # correlated with a
write.csv(data.frame(y = y, a = a, b = b), "tests/reference/proc_delong_data.csv", row.names = FALSE)
ra <- roc(y, a, direction = "<", levels = c(0, 1), quiet = TRUE)
rb <- roc(y, b, direction = "<", levels = c(0, 1), quiet = TRUE)
ca <- ci.auc(ra, method = "delong"); cb <- ci.auc(rb, method = "delong")
test <- roc.test(ra, rb, method = "delong", paired = TRUE)
best <- coords(ra, "best", best.method = "youden", ret = c("threshold", "sensitivity", "specificity"))
write.csv(data.frame(auc_a = as.numeric(auc(ra)), low_a = ca[1], high_a = ca[3], var_a = var(ra, method = "delong"),
                     auc_b = as.numeric(auc(rb)), low_b = cb[1], high_b = cb[3],
                     z = unname(test$statistic), p = test$p.value,
                     youden_sens = best$sensitivity[1], youden_spec = best$specificity[1]),
          "tests/reference/proc_delong.csv", row.names = FALSE)
cat(R.version.string, "pROC", as.character(packageVersion("pROC")), "\n")
