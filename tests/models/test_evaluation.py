"""Stratified evaluation tables (issue #14): medians, p95 and the never-worse-than-physics flag."""

from __future__ import annotations

import numpy as np
import pytest

from starbrain.models.evaluation import stratified_table


def test_stratified_table_numbers_by_hand() -> None:
    # 4 satellites x 2 horizons; strata by hand so every number can be checked.
    prior = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [4.0, 40.0]])
    model = np.array([[0.5, 5.0], [1.0, 10.0], [6.0, 60.0], [2.0, 20.0]])
    strata = {"family": np.array(["shell", "shell", "generic", "generic"])}
    rows = stratified_table(prior, model, [60.0, 1440.0], strata)
    by = {(r["stratum"], r["label"], r["horizon_min"]): r for r in rows}
    assert [r["stratum"] for r in rows[:2]] == ["all", "all"]
    shell = by[("family", "shell", 60.0)]
    assert shell["n_sat"] == 2
    assert shell["sgp4_median_km"] == pytest.approx(1.5)
    assert shell["model_median_km"] == pytest.approx(0.75)
    assert shell["median_ratio"] == pytest.approx(0.5) and shell["p95_ok"]
    gen = by[("family", "generic", 1440.0)]
    assert gen["sgp4_median_km"] == pytest.approx(35.0)
    assert gen["model_median_km"] == pytest.approx(40.0)
    # numpy's linear percentile: 30 + 0.95 * 10 and 20 + 0.95 * 40
    assert gen["sgp4_p95_km"] == pytest.approx(39.5) and gen["model_p95_km"] == pytest.approx(58.0)
    assert gen["p95_ratio"] == pytest.approx(58.0 / 39.5) and not gen["p95_ok"]
    # the pooled row hides the generic stratum's failure in its median
    assert by[("all", "all", 60.0)]["median_ratio"] == pytest.approx(1.5 / 2.5)


def test_stratified_table_skips_failed_truth_and_checks_shapes() -> None:
    prior = np.ones((3, 1))
    model = np.array([[0.5], [np.nan], [0.5]])
    rows = stratified_table(prior, model, [60.0], {"x": np.array(["a", "b", "a"])},
                            ok=np.array([True, False, True]))  # fmt: skip
    assert {(r["stratum"], r["label"]) for r in rows} == {("all", "all"), ("x", "a")}
    assert all(r["model_median_km"] == 0.5 for r in rows)
    with pytest.raises(ValueError, match="labels"):
        stratified_table(prior, prior, [60.0], {"x": np.array(["a"])})
    with pytest.raises(ValueError, match="error matrices"):
        stratified_table(prior, prior, [60.0, 120.0], {})
