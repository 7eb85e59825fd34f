"""ComBat fitted on training rows reproduces neuroCombat and removes scanner effects from new rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import RadNomoError
from core.harmonise import ComBat


def _scanner_data(seed: int = 0, n: int = 240, p: int = 30):
    rng = np.random.default_rng(seed)
    scanners = rng.choice(["A", "B", "C"], size=n, p=[0.5, 0.3, 0.2])
    shift = {"A": 0.0, "B": 1.5, "C": -1.0}
    scale = {"A": 1.0, "B": 1.8, "C": 0.6}
    base = rng.normal(size=(n, p)) * rng.uniform(1, 5, p) + rng.uniform(-3, 3, p)
    values = np.array([row * scale[s] + shift[s] * (1 + np.arange(p) / p) for row, s in zip(base, scanners)])
    frame = pd.DataFrame(values, columns=[f"f{j}" for j in range(p)], index=[f"P{i}" for i in range(n)])
    return frame, pd.Series(scanners, index=frame.index, name="scanner")


def test_fit_transform_equals_neurocombat_and_apply_equals_its_from_training():
    from neuroCombat import neuroCombat, neuroCombatFromTraining

    X, scanners = _scanner_data()
    train, new = X.index[:180], X.index[180:]
    ours = ComBat().fit(X.loc[train], scanners[train])
    reference = neuroCombat(dat=X.loc[train].to_numpy().T, covars=pd.DataFrame({"batch": scanners[train].to_numpy()}),
                            batch_col="batch")
    np.testing.assert_allclose(ours.transform(X.loc[train], scanners[train]).to_numpy().T, reference["data"],
                               rtol=1e-6, atol=1e-8)
    applied = neuroCombatFromTraining(dat=X.loc[new].to_numpy().T, batch=scanners[new].to_numpy(),
                                      estimates=reference["estimates"])
    np.testing.assert_allclose(ours.transform(X.loc[new], scanners[new]).to_numpy().T, applied["data"],
                               rtol=1e-6, atol=1e-8)


def test_harmonised_scanners_have_equal_means_and_the_model_survives_json():
    X, scanners = _scanner_data(seed=1)
    combat = ComBat().fit(X, scanners)
    harmonised = combat.transform(X, scanners)
    before = X.groupby(scanners).mean().std().mean()
    after = harmonised.groupby(scanners).mean().std().mean()
    assert after < 0.1 * before
    again = ComBat.from_dict(combat.to_dict())
    pd.testing.assert_frame_equal(again.transform(X, scanners), harmonised)


def test_combat_messages():
    X, scanners = _scanner_data(seed=2)
    with pytest.raises(RadNomoError, match="not been fitted"):
        ComBat().transform(X, scanners)
    combat = ComBat().fit(X, scanners)
    with pytest.raises(RadNomoError, match="were not in the training cohort"):
        combat.transform(X, scanners.replace("A", "Z"))
    with pytest.raises(RadNomoError, match="at least two scanners"):
        ComBat().fit(X, np.full(len(X), "A"))
    with pytest.raises(RadNomoError, match="at least 2 per scanner"):
        ComBat().fit(X, np.r_[["A"] * (len(X) - 1), ["B"]])
