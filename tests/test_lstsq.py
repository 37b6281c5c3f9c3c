"""Least-squares linear RNNs (Figures 1, 4): fits, kernel errors, perturbations vs direct computations."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curse_of_memory.config import load_config
from curse_of_memory.design import MODEL_KEYS
from curse_of_memory.lstsq import (
    CONSTRUCTIONS,
    RATE_MAPS,
    KernelFit,
    basis,
    constructions_table,
    fit_free_rates,
    fit_regression,
    kernel,
    kernel_error,
    perturbation_errors,
    study_tables,
    unit_directions,
)

T = np.arange(1, 101, dtype=float)
EXP = 0.9**T
POL = (T + 1) ** -1.1


def test_kernel_is_the_sum_of_exponential_modes():
    rates, b, c = np.array([0.1, 0.5]), np.array([1.0, 2.0]), np.array([3.0, -1.0])
    expected = [3.0 * np.exp(-0.1 * t) - 2.0 * np.exp(-0.5 * t) for t in T]
    np.testing.assert_allclose(kernel(rates, b, c, T), expected, rtol=1e-13)


def test_kernel_error_is_the_l1_distance_and_infinite_when_it_overflows():
    assert kernel_error(np.array([1.0, -2.0]), np.array([0.5, 1.0])) == pytest.approx(3.5)
    assert kernel_error(np.ones(3), np.array([1.0, np.inf, 0.0])) == np.inf


@pytest.mark.parametrize("parameterization", sorted(RATE_MAPS))
def test_rate_maps_invert(parameterization):
    rate_map, inverse = RATE_MAPS[parameterization]
    rates = np.array([1e-4, 0.1, 2.0, 30.0])
    np.testing.assert_allclose(rate_map(inverse(rates)), rates, rtol=1e-10)


def test_an_exponential_memory_is_fitted_exactly_with_its_own_rate():
    fit = fit_free_rates(EXP, T, 1)
    assert fit.rates[0] == pytest.approx(-np.log(0.9), rel=1e-8)
    assert fit.coefficients[0] == pytest.approx(1.0, rel=1e-8)
    for width in (2, 4):
        wider = fit_free_rates(EXP, T, width)
        assert kernel_error(EXP, kernel(wider.rates, np.ones(width), wider.coefficients, T)) < 1e-8


def test_polynomial_memory_fits_improve_with_width_and_need_slower_rates():
    fits = {m: fit_free_rates(POL, T, m) for m in (2, 4, 6, 8)}
    errors = [kernel_error(POL, kernel(f.rates, np.ones(m), f.coefficients, T)) for m, f in fits.items()]
    assert all(later < earlier / 5 for earlier, later in zip(errors, errors[1:], strict=False))
    slowest = [f.rates.min() for f in fits.values()]
    assert all(later < earlier for earlier, later in zip(slowest, slowest[1:], strict=False))


def test_perturbation_rows_match_a_direct_perturbation():
    fit = KernelFit(rates=np.array([0.2, 0.05]), coefficients=np.array([0.7, 0.3]))
    betas = np.array([0.0, 0.01, 0.1])
    rows = pd.DataFrame(perturbation_errors(fit, POL, T, "exp", betas, draws=3, seed=5))
    assert len(rows) == 1 + 2 * 3
    unperturbed = kernel_error(POL, kernel(fit.rates, np.ones(2), fit.coefficients, T))
    assert rows.loc[rows["beta"] == 0, "error"].item() == pytest.approx(unperturbed)
    noise = np.random.default_rng(5 * 1_000_003 + 2).standard_normal((3, 2))
    direction = noise / np.abs(noise).max(axis=1, keepdims=True)
    rates = np.exp(np.log(fit.rates) + 0.1 * direction[0])
    expected = kernel_error(
        POL, kernel(rates, 1 + 0.1 * direction[1], fit.coefficients + 0.1 * direction[2], T)
    )
    chosen = rows[(rows["beta"] == 0.1) & (rows["draw"] == 2)]
    assert chosen["error"].item() == pytest.approx(expected, rel=1e-12)


def test_direct_rates_can_turn_unstable_where_reparameterised_ones_cannot():
    fit = KernelFit(rates=np.array([0.01]), coefficients=np.array([1.0]))
    betas = np.array([0.0, 0.5])
    direct = pd.DataFrame(perturbation_errors(fit, POL, T, "direct", betas, draws=5, seed=0))
    softplus = pd.DataFrame(perturbation_errors(fit, POL, T, "softplus", betas, draws=5, seed=0))
    assert direct["error"].max() > 1e15  # a rate of 0.01 - 0.5 grows like e^{0.49 t}
    assert softplus["error"].max() < 1e3


SETTINGS = {
    **load_config(Path(__file__).parents[1] / "config.yaml")["lstsq"],
    "widths": [2, 3],
    "parameterizations": ["direct", "exp"],
    "betas": {"start": 1e-3, "ratio": 2.0, "count": 3, "include_zero": True},
    "draws": 2,
}


def test_study_tables_have_the_summary_layout():
    draws, fits = study_tables({"pol_lstsq": POL}, T, SETTINGS)
    assert list(draws.columns) == [*MODEL_KEYS, "beta", "draw", "error"]
    assert set(draws["study"]) == {"lstsq"} and set(draws["activation"]) == {"linear"}
    seeds = len(SETTINGS["seeds"])
    assert set(draws["seed"]) == set(SETTINGS["seeds"]) and seeds >= 3  # replicates for the claims
    assert len(draws) == seeds * 2 * 2 * (1 + 3 * 2)
    assert len(fits) == seeds * (2 + 3)
    np.testing.assert_allclose(fits["null_error"], np.abs(POL).sum())
    # each seed is its own set of directions; the unperturbed kernel is the same fit
    by_seed = draws.set_index(["seed", "parameterization", "width", "beta", "draw"])["error"]
    assert not np.allclose(by_seed.loc[0].to_numpy(), by_seed.loc[1].to_numpy())
    np.testing.assert_array_equal(by_seed.loc[0].xs(0.0, level="beta"), by_seed.loc[1].xs(0.0, level="beta"))


def test_before_fitting_is_the_zero_readout_on_the_same_rates():
    draws, fits = study_tables({"pol_lstsq": POL}, T, SETTINGS, before_fitting=True)
    fitted = study_tables({"pol_lstsq": POL}, T, SETTINGS)[1]
    np.testing.assert_array_equal(fits["rate"], fitted["rate"])
    assert (fits["coefficient"] == 0).all()
    # the zero kernel's error is the zero predictor's at every width: E_m(0) does not fall
    np.testing.assert_allclose(draws.loc[draws["beta"] == 0, "error"], np.abs(POL).sum())
    at_zero = draws[draws["beta"] == 0].groupby("width")["error"].first()
    np.testing.assert_allclose(at_zero.to_numpy(), fits.groupby("width")["error_at_zero"].first().to_numpy())


def test_regression_is_the_least_squares_solution_on_the_fixed_rate_grid():
    fit = fit_regression(POL, T, 6, time_scale=20.0)
    np.testing.assert_allclose(fit.rates, np.arange(1, 7) / 20.0)
    # the normal equations, solved directly: the same coefficients, and a residual orthogonal to the basis
    design = basis(fit.rates, T)
    np.testing.assert_allclose(
        fit.coefficients, np.linalg.solve(design.T @ design, design.T @ POL), rtol=1e-6
    )
    residual = design @ fit.coefficients - POL
    assert np.abs(design.T @ residual).max() < 1e-10 * np.abs(design.T @ POL).max()


def test_regression_errors_fall_with_width_for_both_memories_and_not_to_round_off():
    for rho in (EXP, POL):
        errors = [
            kernel_error(rho, kernel(f.rates, np.ones(m), f.coefficients, T))
            for m in (2, 4, 6, 8, 14)
            for f in [fit_regression(rho, T, m, time_scale=20.0)]
        ]
        assert all(later <= earlier for earlier, later in zip(errors, errors[1:], strict=False))
        assert errors[0] / errors[-1] >= 10 and errors[-1] > 1e-9


def test_the_literal_integer_rates_cannot_fit_a_slow_exponential():
    """tau = 1 (rates 1..m on t = 1..100): every mode is faster than 0.9^t, so the error stays O(1)."""
    for m in (2, 8, 14):
        fit = fit_regression(EXP, T, m, time_scale=1.0)
        assert kernel_error(EXP, kernel(fit.rates, np.ones(m), fit.coefficients, T)) > 1.0


@pytest.mark.parametrize("norm", ["max", "spectral"])
def test_perturbed_blocks_and_norms_move_exactly_the_chosen_blocks(norm):
    fit = KernelFit(rates=np.array([0.2, 0.05, 0.01]), coefficients=np.array([0.7, 0.3, 0.1]))
    beta = 0.01
    for perturbed in ("rates", "all"):
        rows = pd.DataFrame(
            perturbation_errors(fit, POL, T, "direct", np.array([beta]), 1, 3, perturbed, norm)
        )
        noise = np.random.default_rng(3 * 1_000_003).standard_normal((3, 3))
        scale = np.abs(noise).max(axis=1) if norm == "max" else np.linalg.norm(noise, axis=1)
        direction = noise / scale[:, None]
        moved = direction if perturbed == "all" else direction * np.array([[1.0], [0.0], [0.0]])
        expected = kernel_error(
            POL,
            kernel(fit.rates + beta * moved[0], 1 + beta * moved[1], fit.coefficients + beta * moved[2], T),
        )
        assert rows["error"].item() == pytest.approx(expected, rel=1e-12)


def test_unit_directions_have_unit_norm_per_block():
    noise = np.random.default_rng(0).standard_normal((3, 7))
    np.testing.assert_allclose(np.abs(unit_directions(noise, "max")).max(axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(unit_directions(noise, "spectral"), axis=1), 1.0)
    # same direction, only the length differs
    ratio = unit_directions(noise, "max") / unit_directions(noise, "spectral")
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(7, axis=1))


def test_constructions_table_compares_every_fit_and_block_setting():
    table = constructions_table({"exp_lstsq": EXP}, T, SETTINGS)
    assert set(zip(table["fit"], table["perturbed"], strict=True)) == set(CONSTRUCTIONS)
    assert len(table) == len(CONSTRUCTIONS) * 2 * 1  # two parameterizations, one width pair
    regression = table[table["fit"] == "regression"]
    direct = fit_regression(EXP, T, 3, time_scale=SETTINGS["regression"]["time_scale"])
    expected = kernel_error(EXP, kernel(direct.rates, np.ones(3), direct.coefficients, T))
    np.testing.assert_allclose(regression["error_at_zero_large"], expected, rtol=1e-12)
    crossed = table.dropna(subset=["draw_crossing_median"])
    assert (crossed["draw_crossing_min"] <= crossed["draw_crossing_median"]).all()
    assert (crossed["draw_crossing_median"] <= crossed["draw_crossing_max"]).all()
