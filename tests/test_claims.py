"""Claims statistics on synthetic curves with known answers: stable families must pass the stable
claims and fail the unstable ones, and the other way round."""

import numpy as np
import pandas as pd
import pytest

from curse_of_memory.claims import (
    COLUMNS,
    README_MARKERS,
    ClaimSpec,
    bootstrap_interval,
    claims_table,
    comparison_table,
    main,
    markdown_table,
    paper_claims,
    radius_pairs,
    trend_per_doubling,
)
from curse_of_memory.config import load_config
from curse_of_memory.perturbation import beta_grid
from curse_of_memory.summary import crossing_table, stability_table

from .conftest import REPO

WIDTHS = [8, 16, 32, 64]
BETAS = beta_grid(1e-4, 2.0**0.5, 30)
FLOORS = [1e-2, 1e-3, 1e-4, 1e-5]


def family_draws(parameterization: str, stable: bool, seed: int = 0) -> pd.DataFrame:
    """``E_m(β) = floor_m + c_m β²``. Stable: ``c_m`` grows so consecutive curves cross at one β (0.01)
    and the radius stays put. Unstable: ``c_m`` grows 10× per doubling, so crossing points and the
    radius move left."""
    if stable:
        gains = 1e4 * (1 + np.concatenate([[0], np.cumsum(-np.diff(FLOORS))]))  # Δgain = Δfloor / 0.01²
    else:
        gains = 1e4 * 10.0 ** np.arange(len(WIDTHS))
    rows = []
    for width, floor, gain in zip(WIDTHS, FLOORS, gains, strict=True):
        for beta in BETAS:
            for draw in range(1 if beta == 0 else 2):
                rows.append(
                    {
                        "study": "trained",
                        "target": "pol",
                        "activation": "tanh",
                        "parameterization": parameterization,
                        "width": width,
                        "seed": seed,
                        "beta": beta,
                        "draw": draw,
                        "error": (floor + gain * beta**2) * (1 + 0.05 * draw),
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tables():
    draws = pd.concat(
        [family_draws("stable", True, seed) for seed in (0, 1)]
        + [family_draws("unstable", False, seed) for seed in (0, 1)]
    )
    return {"stability": stability_table(draws, None, {"pol": 1.0}, 1.0), "crossings": crossing_table(draws)}


def spec(statistic, family, above, threshold=-0.15, table="stability"):
    return ClaimSpec("c", "f", "s", table, statistic, threshold, above, {"parameterization": family})


def test_trend_per_doubling_is_decades_per_doubling():
    assert trend_per_doubling([8, 16, 32], [1.0, 0.1, 0.01]) == pytest.approx(-1.0)
    assert trend_per_doubling([8, 16, 32], [3.0, 3.0, 3.0]) == pytest.approx(0.0)
    assert trend_per_doubling([8, 16], [0.0, np.nan]) != trend_per_doubling([8, 16], [0.0, np.nan])  # NaN


def test_stable_and_unstable_radius_claims(tables):
    results = claims_table(
        [
            spec("radius_trend", "stable", above=True),
            spec("radius_trend", "unstable", above=True),
            spec("radius_trend", "stable", above=False),
            spec("radius_trend", "unstable", above=False),
        ],
        tables,
        resamples=200,
        seed=0,
    )
    assert list(results["holds"]) == [True, False, False, True]
    assert results.loc[0, "value"] == pytest.approx(0.0, abs=0.02)
    assert results.loc[1, "value"] == pytest.approx(-0.5, abs=0.05)  # radius ∝ 10^{-m/2 per doubling}
    assert (results["ci_low"] <= results["value"]).all() and (results["value"] <= results["ci_high"]).all()


def test_stable_and_unstable_crossing_claims(tables):
    crossings = tables["crossings"]
    stable = crossings[crossings["parameterization"] == "stable"]["crossing_beta"]
    assert np.allclose(stable, stable.iloc[0], rtol=0.05)  # one crossing region, as built
    results = claims_table(
        [
            spec("crossing_trend", "stable", above=True, table="crossings"),
            spec("crossing_trend", "unstable", above=False, table="crossings"),
            spec("crossing_trend", "stable", above=False, table="crossings"),
            spec("crossing_trend", "unstable", above=True, table="crossings"),
        ],
        tables,
        resamples=200,
        seed=0,
    )
    assert list(results["holds"]) == [True, True, False, False]


def test_fraction_median_ratio_and_undefined_values():
    teachers = pd.DataFrame({"survived": [True, True, False], "decays": [True, False, False]})
    stability = pd.DataFrame(
        {
            "target": "t",
            "activation": "tanh",
            "parameterization": "vanilla",
            "seed": [0, 0, 1, 1],
            "width": [8, 32, 8, 32],
            "error_at_zero": [1.0, 0.9, 1.0, 0.1],
        }
    )
    tables = {"teachers": teachers, "stability": stability, "empty": teachers.iloc[:0]}
    specs = [
        ClaimSpec("a", "3", "s", "teachers", "fraction", 1.0, True, {"survived": True}, "decays"),
        ClaimSpec("b", "3", "s", "teachers", "median", 0.5, True, {}, "decays"),
        ClaimSpec("c", "12", "s", "stability", "widest_to_narrowest", 0.5, True),
        ClaimSpec("d", "3", "s", "empty", "fraction", 0.0, True, {}, "decays"),
        ClaimSpec("e", "x", "s", "missing", "fraction", 0.0, True, {}, "decays"),
    ]
    results = claims_table(specs, tables, resamples=100, seed=0).set_index("claim")
    assert list(results.columns) == COLUMNS[1:]
    assert results.loc["a", "value"] == 0.5 and not results.loc["a", "holds"]
    assert results.loc["b", "value"] == 0.0
    assert results.loc["c", "value"] == pytest.approx(0.5) and results.loc["c", "holds"]  # median of 0.9, 0.1
    # resamples repeat rows (and their index labels): the interval is still computed, within [0.1, 0.9]
    assert 0.1 <= results.loc["c", "ci_low"] <= results.loc["c", "ci_high"] <= 0.9
    assert np.isnan(results.loc["d", "value"]) and not results.loc["d", "holds"]
    assert "e" not in results.index  # a claim whose table this run has not made is left out


def test_bootstrap_interval_is_seeded_and_brackets_the_mean():
    rows = pd.DataFrame({"x": np.arange(100.0)})
    low, high = bootstrap_interval(rows, lambda r: float(r["x"].mean()), 500, seed=3)
    assert (low, high) == bootstrap_interval(rows, lambda r: float(r["x"].mean()), 500, seed=3)
    assert low < 49.5 < high and high - low < 20


def test_radius_pairs_compare_targets_cell_by_cell():
    stability = pd.DataFrame(
        {
            "study": "trained",
            "target": ["exp", "pol", "exp", "pol"],
            "activation": "tanh",
            "parameterization": ["vanilla", "vanilla", "softplus", "softplus"],
            "width": 8,
            "seed": 0,
            "stability_radius": [0.5, 0.1, 0.2, 0.3],
        }
    )
    pairs = radius_pairs(stability, "exp", "pol").set_index("parameterization")
    assert pairs.loc["vanilla", "pol_below_exp"] and not pairs.loc["softplus", "pol_below_exp"]


def test_paper_claims_cover_every_configured_figure_and_render_as_markdown(tables):
    config = load_config(REPO / "config.yaml")
    specs = paper_claims(config)
    assert {s.figure for s in specs} == {"1a", "1b", "2", "3", "4", "7", "8", "7/8 grid", "10", "11", "12"}
    assert len({s.claim for s in specs}) == len(specs)
    results = claims_table([spec("radius_trend", "stable", above=True)], tables, resamples=10, seed=0)
    assert markdown_table(results).count("\n") == 3 and "| yes |" in markdown_table(results)


def test_the_readme_table_is_regenerated_between_its_markers(tmp_path, tables):
    results = claims_table(
        [spec("radius_trend", "stable", above=True), spec("radius_trend", "unstable", above=True)],
        tables,
        resamples=10,
        seed=0,
    )
    start, end = README_MARKERS
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{start}\nstale table\n{end}\noutro\n")
    results.to_csv(tmp_path / "claims.csv", index=False)
    main([str(tmp_path / "claims.csv"), str(readme)])
    text = readme.read_text()
    assert "stale" not in text and text.startswith("intro\n") and text.endswith(f"{end}\noutro\n")
    assert text.count("**holds**") == 1 and text.count("**does not hold**") == 1
    assert comparison_table(results) in text
