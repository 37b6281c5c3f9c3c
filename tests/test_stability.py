"""Stability estimators on synthetic curves whose answers are known in closed form."""

import math

import numpy as np
import pandas as pd
import pytest

from curse_of_memory.stability import (
    Estimate,
    beta_grid,
    crossing_beta,
    crossings,
    error_curve,
    stability_radius,
)

BETAS = beta_grid(1e-3, 2.0, 12)


def curve(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float), index=BETAS)


def test_error_curve_is_max_over_draws_then_running_max():
    draws = pd.DataFrame(
        {"beta": [0, 1, 1, 2, 2, 3], "draw": [0, 0, 1, 0, 1, 0], "error": [1, 5, 3, 2, 4, 6]}
    )
    assert error_curve(draws).tolist() == [1, 5, 5, 6]


def test_radius_of_a_power_law_is_its_closed_form():
    """E = a β² is a line in log–log, so interpolation recovers β* = sqrt(τ E_null / a) exactly."""
    a, null, threshold = 4.0, 2.0, 0.5
    errors = a * BETAS**2
    errors[0] = 1e-9
    radius = stability_radius(curve(errors), null, threshold)
    assert radius.value == pytest.approx(math.sqrt(threshold * null / a), rel=1e-12)
    assert radius.low == radius.high == radius.value and radius.censoring == "exact"


def test_radius_is_invariant_to_the_scale_of_the_target():
    errors = 1e-4 + 3.0 * BETAS**3
    for factor in [1e-6, 1.0, 1e8]:
        scaled = stability_radius(curve(factor * errors), factor * 0.7, 0.2)
        assert scaled.value == pytest.approx(stability_radius(curve(errors), 0.7, 0.2).value, rel=1e-12)


def test_radius_edge_cases_carry_the_grid_interval():
    # already past the threshold unperturbed: exactly 0
    assert stability_radius(curve(np.full(len(BETAS), 2.0)), 1.0, 1.0) == Estimate(0.0, 0.0, 0.0)
    # past it at the first positive beta: somewhere in [0, beta_1]
    first = stability_radius(curve(np.where(BETAS > 0, 2.0, 0.1)), 1.0, 1.0)
    assert first == Estimate(0.0, 0.0, BETAS[1]) and first.censoring == "below grid"
    never = stability_radius(curve(np.full(len(BETAS), 0.1)), 1.0, 1.0)
    assert never == Estimate(BETAS[-1], BETAS[-1], math.inf) and never.censoring == "beyond grid"
    blow_up = np.where(BETAS > 0.03, np.inf, 0.01)
    assert stability_radius(curve(blow_up), 1.0, 1.0).value == BETAS[BETAS <= 0.03][-1]


def test_crossing_of_power_laws_is_exact():
    small = curve(np.ones(len(BETAS)))
    large = curve((BETAS / 0.1) ** 2)
    large.iloc[0] = 1e-6
    crossing = crossing_beta(small, large)
    assert crossing.value == pytest.approx(0.1, rel=1e-12) and crossing.censoring == "exact"
    never = crossing_beta(small, curve(np.full(len(BETAS), 0.5)))  # better on the whole grid
    assert math.isnan(never.value) and (never.low, never.high) == (BETAS[-1], math.inf)
    no_advantage = crossing_beta(large, small)  # the larger model is not better at β = 0
    assert math.isnan(no_advantage.value) and (no_advantage.low, no_advantage.high) == (0.0, 0.0)
    at_once = curve(np.where(BETAS > 0, 2.0, 0.5))  # better at 0, worse from the first positive beta
    assert crossing_beta(small, at_once) == Estimate(BETAS[1], 0.0, BETAS[1])


def test_crossings_pair_consecutive_widths_and_move_left_when_built_to():
    """Curves E_m = e_m + (β/β_m)² with β_m shrinking in m cross further left as m grows."""
    curves = {}
    for width, floor, knee in [(8, 1e-2, 0.2), (16, 1e-3, 0.05), (32, 1e-4, 0.01)]:
        curves[width] = curve(floor + (BETAS / knee) ** 2)
    rows = crossings(curves)
    assert [(r["width_small"], r["width_large"]) for r in rows] == [(8, 16), (16, 32)]
    assert rows[1]["crossing_beta"] < rows[0]["crossing_beta"]


def test_estimators_handle_infinite_errors():
    """Overflowed perturbed models are recorded as inf: curves, radii and crossings stay defined."""
    draws = pd.DataFrame(
        {"beta": [0.0, 0.1, 0.1, 0.2], "draw": [0, 0, 1, 0], "error": [1.0, 2.0, np.inf, 3.0]}
    )
    assert error_curve(draws).tolist() == [1.0, np.inf, np.inf]
    small = curve(np.where(BETAS > 0.1, np.inf, 1.0))
    large = curve(np.where(BETAS > 0.02, np.inf, 0.01))
    assert crossing_beta(small, large).value == BETAS[BETAS <= 0.02][-1]
    assert stability_radius(large, 1.0, 1.0).value == BETAS[BETAS <= 0.02][-1]
