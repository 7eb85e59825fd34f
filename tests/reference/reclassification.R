# Known answers for core.stats.reclassification (continuous NRI and IDI, categorical NRI).
# Run from the repository root:  Rscript tests/reference/reclassification.R
# Made with R 4.2.2, Hmisc 4.8.0.
#
# Two simulated cohorts (seeded), written beside this script so that Python reads the very same numbers:
#   reclassification_data.csv: cohort ("smooth": n = 400, probabilities to 6 decimals; "ties": n = 150,
#   probabilities to 2 decimals and a fifth of the new model's equal to the reference's, so that some
#   patients do not move and some sit exactly on a cut point),
#   y, p_reference, p_new.
# Answers:
#   reclassification_improveprob.csv: Hmisc::improveProb(x1 = p_reference, x2 = p_new, y) per cohort, every
#     element it returns, with z, two-sided p and the 95 % Wald CI as print.improveProb computes them.
#   reclassification_categorical.csv: the categorical NRI for cuts 0.1, 0.3 and for the single cut 0.2, from
#     table() of the categories (cut(..., right = FALSE): a probability on a cut goes to the higher category)
#     with Pencina et al. (Stat Med 2008)'s formulas; reclassification_tables.csv: those tables, long format.
# Values are written with 17 significant digits.
suppressMessages(library(Hmisc))
set.seed(2028)
simulate <- function(n, digits) {
  x1 <- rnorm(n); x2 <- rnorm(n)
  y <- rbinom(n, 1, plogis(-1 + 0.9 * x1 + 0.6 * x2))
  p_reference <- round(plogis(-1 + 0.8 * x1), digits)
  p_new <- round(plogis(-1.1 + 0.85 * x1 + 0.5 * x2 + rnorm(n, 0, 0.3)), digits)
  if (digits == 2) p_new <- ifelse(runif(n) < 0.2, p_reference, p_new)  # some patients do not move
  data.frame(y = y, p_reference = p_reference, p_new = p_new)
}
cohorts <- list(smooth = simulate(400, 6), ties = simulate(150, 2))
data <- do.call(rbind, lapply(names(cohorts), function(k) cbind(cohort = k, cohorts[[k]])))
write.csv(data, "tests/reference/reclassification_data.csv", row.names = FALSE)

num <- function(x) sprintf("%.17g", x)
zpci <- function(m, se) {
  z <- qnorm(0.975)
  c(z = m / se, p = 2 * pnorm(-abs(m / se)), low = m - z * se, high = m + z * se)
}

rows <- NULL
for (k in names(cohorts)) {
  d <- cohorts[[k]]
  r <- improveProb(x1 = d$p_reference, x2 = d$p_new, y = d$y)
  add <- function(name, value) data.frame(cohort = k, name = name, value = num(value))
  for (name in c("n", "na", "nb", "pup.ev", "pup.ne", "pdown.ev", "pdown.ne", "nri", "se.nri", "z.nri",
                 "nri.ev", "se.nri.ev", "z.nri.ev", "nri.ne", "se.nri.ne", "z.nri.ne", "improveSens",
                 "improveSpec", "idi", "se.idi", "z.idi")) {
    rows <- rbind(rows, add(name, r[[name]]))
  }
  for (index in list(c("nri", "se.nri"), c("nri.ev", "se.nri.ev"), c("nri.ne", "se.nri.ne"), c("idi", "se.idi"))) {
    w <- zpci(r[[index[1]]], r[[index[2]]])
    for (part in c("p", "low", "high")) rows <- rbind(rows, add(paste0(index[1], ".", part), w[[part]]))
  }
}
write.csv(rows, "tests/reference/reclassification_improveprob.csv", row.names = FALSE)

categorical <- NULL
tables <- NULL
for (k in names(cohorts)) {
  d <- cohorts[[k]]
  for (cuts in list(c(0.1, 0.3), 0.2)) {
    breaks <- c(-Inf, cuts, Inf)
    labels <- seq_len(length(cuts) + 1) - 1
    ref <- factor(cut(d$p_reference, breaks, right = FALSE, labels = FALSE), levels = seq_along(labels))
    new <- factor(cut(d$p_new, breaks, right = FALSE, labels = FALSE), levels = seq_along(labels))
    out <- NULL
    for (event in c(1, 0)) {
      tab <- table(ref[d$y == event], new[d$y == event])
      up <- sum(tab[col(tab) > row(tab)])
      down <- sum(tab[col(tab) < row(tab)])
      n <- sum(tab)
      out <- rbind(out, data.frame(event = event, up = up, down = down, n = n))
      tables <- rbind(tables, data.frame(cohort = k, cuts = paste(cuts, collapse = " "), event = event,
                                         reference = as.vector(row(tab)) - 1, new = as.vector(col(tab)) - 1,
                                         count = as.vector(tab)))
    }
    ev <- out[out$event == 1, ]; ne <- out[out$event == 0, ]
    nri_ev <- (ev$up - ev$down) / ev$n
    nri_ne <- (ne$down - ne$up) / ne$n
    se_ev <- sqrt((ev$up + ev$down) / ev$n^2)   # Pencina 2008: (p_up + p_down) / n
    se_ne <- sqrt((ne$up + ne$down) / ne$n^2)
    nri <- nri_ev + nri_ne
    se <- sqrt(se_ev^2 + se_ne^2)
    w <- zpci(nri, se)
    categorical <- rbind(categorical, data.frame(
      cohort = k, cuts = paste(cuts, collapse = " "), up_events = ev$up, down_events = ev$down,
      up_nonevents = ne$up, down_nonevents = ne$down, nri = num(nri), se = num(se), z = num(w[["z"]]),
      p = num(w[["p"]]), low = num(w[["low"]]), high = num(w[["high"]]), nri_events = num(nri_ev),
      se_events = num(se_ev), nri_nonevents = num(nri_ne), se_nonevents = num(se_ne)))
  }
}
write.csv(categorical, "tests/reference/reclassification_categorical.csv", row.names = FALSE)
write.csv(tables, "tests/reference/reclassification_tables.csv", row.names = FALSE)
