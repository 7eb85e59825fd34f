# Known answers for core.selection.lasso_cv: R's glmnet / cv.glmnet (binomial, alpha = 1, standardize = TRUE).
# Run from the repository root:  Rscript tests/reference/glmnet_lasso.R
# Three problems: "narrow" (more rows than features, glmnet's path ends early), "wide" (more features
# than rows) and "resampled" (a bootstrap resample of correlated features: rows drawn with replacement,
# more rows than features, the end of the path close to separation, as inside the optimism bootstrap). Fits are made twice: converged tightly (thresh 1e-13) to compare coefficients and CV curves
# to many digits, and with glmnet's defaults to compare the chosen lambdas and the path length.
suppressMessages(library(glmnet))
make <- function(name, n, p, seed, resample = FALSE) {
  set.seed(seed)
  z <- matrix(rnorm(n * p), n, p)
  if (resample) z <- z + matrix(rnorm(n * 5), n, 5) %*% matrix(rnorm(5 * p, sd = 0.6), 5, p)
  x <- z
  x[, 2] <- 0.7 * z[, 1] + 0.7 * z[, 2]            # correlated pair
  x[, 3] <- exp(z[, 3])                             # skewed
  x <- sweep(x, 2, 10^seq(-2, 3, length.out = p), "*")  # scales from 0.01 to 1000, as radiomics features
  x <- signif(x, 8)
  eta <- -0.7 + z[, 1] - 0.8 * z[, 4] + 0.5 * z[, 5] + 0.3 * z[, 6]
  y <- rbinom(n, 1, plogis(eta))
  if (resample) {
    drawn <- sample(n, n, replace = TRUE)
    x <- x[drawn, ]
    y <- y[drawn]
  }
  foldid <- sample(rep(seq(10), length.out = n))
  colnames(x) <- sprintf("f%03d", seq(p))
  write.csv(data.frame(y = y, foldid = foldid, x), sprintf("tests/reference/glmnet_%s_data.csv", name),
            row.names = FALSE)
  tight <- cv.glmnet(x, y, family = "binomial", foldid = foldid, thresh = 1e-13, maxit = 1e8)
  default <- cv.glmnet(x, y, family = "binomial", foldid = foldid)
  write.csv(data.frame(lambda = tight$lambda, cvm = tight$cvm, cvsd = tight$cvsd, nzero = tight$nzero,
                       dev_ratio = tight$glmnet.fit$dev.ratio),
            sprintf("tests/reference/glmnet_%s_cv.csv", name), row.names = FALSE)
  coefs <- cbind(as.matrix(coef(tight, s = "lambda.min")), as.matrix(coef(tight, s = "lambda.1se")))
  write.csv(data.frame(term = rownames(coefs), lambda_min = coefs[, 1], lambda_1se = coefs[, 2]),
            sprintf("tests/reference/glmnet_%s_coef.csv", name), row.names = FALSE)
  write.csv(data.frame(fit = c("tight", "default"), lambda_min = c(tight$lambda.min, default$lambda.min),
                       lambda_1se = c(tight$lambda.1se, default$lambda.1se),
                       n_lambda = c(length(tight$lambda), length(default$lambda))),
            sprintf("tests/reference/glmnet_%s_choice.csv", name), row.names = FALSE)
}
make("narrow", 240, 20, 11)
make("wide", 100, 150, 12)
make("resampled", 240, 60, 13, resample = TRUE)
cat(R.version.string, "glmnet", as.character(packageVersion("glmnet")), "\n")
