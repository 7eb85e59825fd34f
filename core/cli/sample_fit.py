"""Command line: store the sample study's fit (default settings, screening included) for the dashboard.

    python -m core.cli.sample_fit

Writes sample_data/fitted/models.json.gz under the sample study's fingerprint (and the survival sample study's
fit, sample_data/fitted/survival_models.json.gz); the dashboard opens the
sample with it, so first visits do not fit anything. Also writes the guided tour's numbers
(sample_data/fitted/tour.json.gz: the sample with the reference study's clinical model, its Table 2,
Table 3, funnels and fit), so the tour shows them at once. Re-run it when the sample data or the defaults
change (tests/core/test_sample_fit.py says so).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from core.workflows.fit import fit_models, fit_study, prepare_tables
from core.workflows.sample import (SAMPLE_FIT, SAMPLE_SURVIVAL_FIT, sample_study, sample_survival_study,
                                   save_sample_fit)
from core.workflows.tour import TOUR_NUMBERS, compute_tour, save_tour, tour_study

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.cli.sample_fit",
                                     description="Store the sample study's fit for the dashboard.")
    parser.add_argument("--out", default=str(SAMPLE_FIT))
    parser.add_argument("--tour-out", default=str(TOUR_NUMBERS), help="where the guided tour's numbers go")
    parser.add_argument("--survival-out", default=str(SAMPLE_SURVIVAL_FIT),
                        help="where the survival sample study's fit goes")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    study = sample_study()
    models = fit_study(study)
    save_sample_fit(study, models, args.out)
    print(f"fitted in {time.perf_counter() - start:.1f} s; wrote {args.out} (fingerprint {study.fingerprint})")
    # The tour's study differs from the sample only in its clinical model: the screening is the same, reused.
    tour = tour_study(study)
    save_tour(compute_tour(tour, fit_models(tour, prepare_tables(tour), models.screening)), args.tour_out)
    print(f"wrote the guided tour's numbers to {args.tour_out} (fingerprint {tour.fingerprint})")
    start = time.perf_counter()
    survival = sample_survival_study()
    save_sample_fit(survival, fit_study(survival), args.survival_out)
    print(f"survival sample fitted in {time.perf_counter() - start:.1f} s; wrote {args.survival_out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
