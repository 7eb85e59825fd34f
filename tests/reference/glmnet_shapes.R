# Known answers for core.stats.selection.lasso_cv on issue 26's shapes: R's cv.glmnet (binomial, alpha = 1,
# standardize = TRUE, the given foldid) on data made in Python (tests/reference/lasso_shapes.py, which calls this
# script; the data are not committed, they are regenerated from the seed):
#   python -m tests.reference.lasso_shapes [name ...]       # from the repository root
#   Rscript tests/reference/glmnet_shapes.R DATA.csv OUT_PREFIX   # one problem: columns y, foldid, features
# Two fits of the same problem: glmnet's defaults (thresh 1e-7: the answer a user of cv.glmnet gets, and whose
# chosen lambdas the product must reproduce) and a tight one (thresh 1e-12, maxit 1e8: glmnet's exact answer,
# to compare the CV curve and coefficients to many digits). Writes, at 17 significant digits:
#   OUT_PREFIX_cv.csv     fit, lambda, cvm, cvsd, nzero, dev_ratio (one row per lambda of each fit)
#   OUT_PREFIX_coef.csv   term, tight_min, tight_1se, default_min, default_1se: the intercept and every feature
#                         nonzero in at least one column (the others are zero in all four)
#   OUT_PREFIX_choice.csv fit, thresh, lambda_min, lambda_1se, n_lambda, seconds (elapsed time of cv.glmnet),
#                         and R's and glmnet's versions
suppressMessages(library(glmnet))
args <- commandArgs(TRUE)
d <- read.csv(args[1])
prefix <- args[2]
y <- d$y
foldid <- d$foldid
x <- as.matrix(d[, -(1:2)])
fits <- list()
seconds <- c()
for (fit in c("default", "tight")) {
  seconds[fit] <- system.time(fits[[fit]] <- if (fit == "tight") {
    cv.glmnet(x, y, family = "binomial", foldid = foldid, thresh = 1e-12, maxit = 1e8)
  } else {
    cv.glmnet(x, y, family = "binomial", foldid = foldid)
  })[["elapsed"]]
}
full <- function(v) sprintf("%.17g", v)
curves <- do.call(rbind, lapply(names(fits), function(fit) {
  cv <- fits[[fit]]
  data.frame(fit = fit, lambda = full(cv$lambda), cvm = full(cv$cvm), cvsd = full(cv$cvsd), nzero = cv$nzero,
             dev_ratio = full(cv$glmnet.fit$dev.ratio))
}))
write.csv(curves, paste0(prefix, "_cv.csv"), row.names = FALSE, quote = FALSE)
coefs <- cbind(as.matrix(coef(fits$tight, s = "lambda.min")), as.matrix(coef(fits$tight, s = "lambda.1se")),
               as.matrix(coef(fits$default, s = "lambda.min")), as.matrix(coef(fits$default, s = "lambda.1se")))
keep <- rownames(coefs) == "(Intercept)" | rowSums(coefs != 0) > 0
coefs <- coefs[keep, , drop = FALSE]
write.csv(data.frame(term = rownames(coefs), tight_min = full(coefs[, 1]), tight_1se = full(coefs[, 2]),
                     default_min = full(coefs[, 3]), default_1se = full(coefs[, 4])),
          paste0(prefix, "_coef.csv"), row.names = FALSE, quote = FALSE)
write.csv(data.frame(fit = names(fits), thresh = c(1e-7, 1e-12),
                     lambda_min = full(sapply(fits, function(cv) cv$lambda.min)),
                     lambda_1se = full(sapply(fits, function(cv) cv$lambda.1se)),
                     n_lambda = sapply(fits, function(cv) length(cv$lambda)), seconds = seconds[names(fits)],
                     r = R.version.string, glmnet = as.character(packageVersion("glmnet"))),
          paste0(prefix, "_choice.csv"), row.names = FALSE, quote = FALSE)
cat(basename(prefix), "rows", nrow(x), "features", ncol(x), "cv.glmnet default", seconds[["default"]], "s, tight",
    seconds[["tight"]], "s\n")
