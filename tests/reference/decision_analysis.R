# Known answers for core.stats.decision_analysis (the point estimates of the decision curve, net interventions
# avoided, standardized net benefit, the clinical impact curve and the net-benefit difference of two models).
# Run from the repository root:  Rscript tests/reference/decision_analysis.R
# Made with R 4.2.2, base R only: rmda and dcurves are not installed here, so their formulas are written out
# (Vickers & Elkin 2006; Vickers et al. 2006 for interventions avoided; Kerr et al. 2016 for the standardized
# net benefit; rmda's calculate.nb / plot_clinical_impact for the number high risk per 1,000 =
# 1000 * (TPR * rho + FPR * (1 - rho)) and of them with the event = 1000 * TPR * rho, rho the prevalence).
# The bootstrap bands are not compared here: R's and numpy's random streams differ, so no resample is shared.
#
# Data written beside this script: decision_analysis_data.csv (n = 250, seeded; probabilities of two models
# rounded to 2 decimals so that many equal a threshold exactly: a patient with p = pt is treated, p >= pt).
# Answers: decision_analysis_answers.csv at thresholds (1:99)/100 (the same doubles as 0.01..0.99 to 2
# decimals), with 17 significant digits.
set.seed(1928)
n <- 250
x <- rnorm(n)
y <- rbinom(n, 1, plogis(-0.7 + 1.2 * x))
p_a <- round(plogis(-0.7 + 1.1 * x) * 100) / 100
p_b <- round(plogis(-0.6 + 0.6 * x + rnorm(n, 0, 0.5)) * 100) / 100
write.csv(data.frame(y = y, p_a = p_a, p_b = p_b), "tests/reference/decision_analysis_data.csv", row.names = FALSE)

thresholds <- (1:99) / 100
curve <- function(p) {
  rho <- mean(y)
  t(sapply(thresholds, function(pt) {
    treated <- p >= pt
    tp <- sum(treated & y == 1); fp <- sum(treated & y == 0)
    odds <- pt / (1 - pt)
    nb <- tp / n - fp / n * odds
    all <- rho - (1 - rho) * odds
    tpr <- tp / sum(y == 1); fpr <- fp / sum(y == 0)
    c(net_benefit = nb, treat_all = all, interventions_avoided = (nb - all) / odds * 100,
      standardized_net_benefit = nb / rho, high_risk_per_1000 = 1000 * (tpr * rho + fpr * (1 - rho)),
      high_risk_events_per_1000 = 1000 * tpr * rho)
  }))
}
a <- curve(p_a); b <- curve(p_b)
num <- function(x) sprintf("%.17g", x)
answers <- data.frame(threshold = num(thresholds))
for (name in colnames(a)) answers[[paste0(name, "_a")]] <- num(a[, name])
answers$net_benefit_b <- num(b[, "net_benefit"])
answers$difference <- num(a[, "net_benefit"] - b[, "net_benefit"])
write.csv(answers, "tests/reference/decision_analysis_answers.csv", row.names = FALSE)
