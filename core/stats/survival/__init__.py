"""Time-to-event statistics: Kaplan-Meier and the log-rank test, Cox models (Efron ties, as R's coxph) and their
proportional-hazards check, the LASSO-Cox path and its cross-validation (as glmnet's ``family = "cox"``),
concordance, time-dependent ROC/AUC and Brier scores with inverse-probability-of-censoring weights, calibration
and decision curves at a horizon, and the Cox nomogram with survival axes (as rms).

Each module holds one job; the functions take trusted arrays (``time`` > 0 in the study's unit, ``event`` 0/1)
validated at the boundary by :class:`core.stats.outcomes.SurvivalOutcome`.
"""
