"""The claims engine on synthetic families with known answers: each statistic passes, fails and is
inconclusive where it should, censored inputs bound it, intervals resample seeds, and no claim holds on
models that learned nothing (the negative controls)."""

import itertools

import numpy as np
import pandas as pd
import pytest

from curse_of_memory.claims import (
    COLUMNS,
    RADIUS_COLUMNS,
    STATISTICS,
    Claim,
    Condition,
    claims_table,
    controlled,
    covered,
    theil_sen_elements,
    trend,
    verdict,
    with_controls,
    with_reading,
    with_worst_case,
)
from curse_of_memory.claims_tables import comparison_table, markdown_table
from curse_of_memory.classification_tables import at_epoch
from curse_of_memory.config import load_config
from curse_of_memory.memory import definition_agreement
from curse_of_memory.paper_claims import (
    classification_claim,
    crossing_pairs,
    curse_claim,
    main_grid_claims,
    pair_tables,
    paper_claims,
    radius_pairs,
    radius_reading,
    stable_claim,
)
from curse_of_memory.stability import beta_grid
from curse_of_memory.summary import crossing_table, stability_table

from .conftest import REPO

WIDTHS = [8, 16, 32, 64]
BETAS = beta_grid(1e-4, 2.0**0.5, 30)
FLOORS = np.array([1e-2, 1e-3, 1e-4, 1e-5])
SETTINGS = {"resamples": 300, "seed": 0, "minimum_replicates": 3}


def curve_draws(curves: np.ndarray, parameterization: str, seed: int, **keys) -> pd.DataFrame:
    """The draw rows of one family whose width ``WIDTHS[i]`` has the curve ``curves[i]`` over ``BETAS``: one
    draw at β = 0, two above it (the second 5% higher), in the ``study``, ``target`` and ``activation`` of
    ``keys`` (default: the main grid's, pol, tanh)."""
    cell = {"study": "trained", "target": "pol", "activation": "tanh", **keys}
    rows = [
        {**cell, "parameterization": parameterization, "width": width, "seed": seed, "beta": beta,
         "draw": draw, "error": error * (1 + 0.05 * draw)}
        for width, curve in zip(WIDTHS, curves, strict=True)
        for beta, error in zip(BETAS, curve, strict=True)
        for draw in range(1 if beta == 0 else 2)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def family_draws(
    parameterization: str, stable: bool, seed: int, learned: bool = True, **keys
) -> pd.DataFrame:
    """``E_m(β) = floor_m + c_m β²`` (E_null = 1). Stable: ``c_m`` grows so consecutive curves cross at one
    β (0.01) and the radius stays put. Unstable: ``c_m`` grows 10× per doubling, so crossing points and
    the radius move left. A seed scales the curves by a few percent (replicates differ). Not ``learned``:
    the floors sit at the zero predictor's error, in no order of m (a model at initialisation)."""
    floors = FLOORS if learned else np.random.default_rng(seed).uniform(0.95, 1.3, len(WIDTHS))
    if stable:
        gains = 1e4 * (1 + np.concatenate([[0], np.cumsum(-np.diff(FLOORS))]))  # Δgain = Δfloor / 0.01²
    else:
        gains = 1e4 * 10.0 ** np.arange(len(WIDTHS))
    scale = 1 + 0.03 * seed
    curves = floors[:, None] + gains[:, None] * scale * BETAS[None, :] ** 2
    return curve_draws(curves, parameterization, seed, **keys)


def summaries(families: dict[str, bool], seeds=(0, 1, 2), learned: bool = True) -> dict[str, pd.DataFrame]:
    draws = pd.concat(
        [family_draws(name, stable, seed, learned) for name, stable in families.items() for seed in seeds]
    )
    return {"stability": stability_table(draws, None, {"pol": 1.0}, 1.0), "crossings": crossing_table(draws)}


@pytest.fixture(scope="module")
def tables():
    return summaries({"stable": True, "unstable": False})


#: The trend thresholds of config.yaml's ``claims`` section.
THRESHOLDS = {"error_slope": 0.0, "radius_slope": -0.15, "crossing_slope": -0.15, "contrast": 0.0}


def stable(family: str, baseline: str, quantity: str = "radius") -> Claim:
    """Definition 3.5 with a contrast, built as the paper's Figures 4, 7 and 8 are."""
    select, against = {"parameterization": family}, {"parameterization": baseline}
    return stable_claim("stable", "f", "s", quantity, select, THRESHOLDS, against)


def cursed(family: str, quantity: str = "radius") -> Claim:
    """The curse of memory, built as the paper's Figures 1b, 2 and 7 (without) are."""
    return curse_claim("curse", "f", "s", quantity, {"parameterization": family}, THRESHOLDS)


def verdicts(results: pd.DataFrame) -> dict[str, str]:
    return dict(zip(results["claim"], results["verdict"], strict=True))


def test_theil_sen_is_decades_per_doubling_and_robust_to_one_outlier():
    assert trend([8, 16, 32], [1.0, 0.1, 0.01]) == pytest.approx(-1.0)
    assert trend([8, 16, 32], [3.0, 3.0, 3.0]) == pytest.approx(0.0)
    assert trend([32, 8, 16], [0.01, 1.0, 0.1]) == pytest.approx(-1.0)  # any row order
    assert trend([8, 16, 32, 64, 128], [1.0, 0.1, 1e3, 1e-3, 1e-4]) == pytest.approx(-1.0)
    assert np.isnan(trend([8], [1.0]))


def test_the_pooled_median_of_points_and_of_interval_ends():
    """Points pool by the median (bit for bit NumPy's linear interpolation between the two middle values
    of an even count, and np.median's middle value of an odd one), interval ends by the lower and upper
    medians, NaN left out: on random sizes with ties, infinities of both signs and NaN."""
    median = STATISTICS["median"].pool
    generator = np.random.default_rng(0)
    choices = np.array([-np.inf, np.inf, np.nan, 0.0, 1.0, -2.5, 1e-300, 3.0])
    for _ in range(2000):
        size = int(generator.integers(0, 12))
        values = np.where(
            generator.random(size) < 0.4, generator.choice(choices, size), generator.normal(size=size)
        )
        kept = np.sort(values[~np.isnan(values)])
        if not len(kept):
            assert all(np.isnan(median(values, end)) for end in ("point", "low", "high"))
            continue
        with np.errstate(invalid="ignore"):
            point = float(np.quantile(kept, 0.5) if len(kept) % 2 == 0 else np.median(kept))
        for end, expected in (
            ("point", point),
            ("low", float(np.quantile(kept, 0.5, method="lower"))),
            ("high", float(np.quantile(kept, 0.5, method="higher"))),
        ):
            got = median(values.copy(), end)
            assert got == expected or (np.isnan(got) and np.isnan(expected)), (values, end)
    assert np.isnan(median(np.array([-np.inf, np.inf]), "point"))  # undefined, never 0
    assert median(np.array([-2.5, -1.0, np.inf]), "point") == -1.0  # np.quantile says NaN here
    assert median(np.array([-np.inf, np.inf]), "low") == -np.inf


def test_censored_values_bound_the_slopes():
    # radius collapsed below the grid at m = 32 (in [0, 1e-3]); never reached at m = 64 ([0.5, inf))
    point, low, high = theil_sen_elements(
        np.array([8, 32, 64]), np.array([0.1, 0.0, 0.5]), np.array([0.1, 1e-3, np.inf])
    )
    # pairs (8, 32), (8, 64), (32, 64)
    assert point == pytest.approx([-1.0, np.log10(5) / 3, np.log10(500)])
    assert low[0] == -np.inf and high[0] == pytest.approx(-1.0)  # the collapse can only be worse
    assert low[1] == pytest.approx(np.log10(5) / 3) and high[1] == np.inf
    assert low[2] == pytest.approx(np.log10(500)) and high[2] == np.inf
    # two radii exactly 0 carry no slope: unbounded, and left out of the point estimate
    point, low, high = theil_sen_elements(np.array([8, 16]), np.zeros(2), np.zeros(2))
    assert np.isnan(point[0]) and low[0] == -np.inf and high[0] == np.inf


@pytest.mark.parametrize(
    ("low", "high", "side", "expected"),
    [
        (0.1, 0.3, "at least", "holds"),
        (-0.3, -0.2, "at least", "does not hold"),
        (-0.1, 0.3, "at least", "inconclusive"),
        (-0.3, -0.1, "below", "holds"),
        (0.0, 0.2, "below", "does not hold"),
        (0.0, 0.2, "above", "inconclusive"),
        (0.01, np.inf, "above", "holds"),
        (-np.inf, np.inf, "at least", "inconclusive"),
        (np.nan, np.nan, "at least", "inconclusive"),
    ],
)
def test_verdict_needs_the_whole_interval_on_one_side(low, high, side, expected):
    assert verdict(low, high, side, 0.0) == expected


def test_stable_approximation_is_a_conjunction_and_a_contrast(tables):
    results = claims_table([stable("stable", "unstable"), cursed("unstable")], tables, SETTINGS).set_index(
        "claim"
    )
    assert results.loc["stable", "verdict"] == "holds"
    assert results.loc["stable.contrast", "value"] == pytest.approx(0.5, abs=0.05)  # 10^{-1/2} per doubling
    assert results.loc["curse", "verdict"] == "holds"
    assert (results["replicates"] == 3).all()
    # swapped: the unstable family is not stable, and the stable one has no curse
    swapped = claims_table([stable("unstable", "stable"), cursed("stable")], tables, SETTINGS)
    swapped = swapped.set_index("claim")
    assert swapped.loc["stable", "verdict"] == "does not hold"
    assert swapped.loc["stable.radius", "verdict"] == "does not hold"
    assert swapped.loc["curse", "verdict"] == "does not hold"
    for table in (results, swapped):  # the Done-when property of results/claims.csv
        passing = table[table["verdict"] == "holds"]
        failing = table[table["verdict"] == "does not hold"]
        assert all(
            verdict(r.ci_low, r.ci_high, _side(r.test), r.threshold) == "holds" for r in passing.itertuples()
        )
        assert all(
            verdict(r.ci_low, r.ci_high, _side(r.test), r.threshold) == "does not hold"
            for r in failing.itertuples()
        )


def _side(test: str) -> str:
    return {">=": "at least", "<": "below", ">": "above"}[test.split()[1]]


def test_crossing_claims_on_stable_and_unstable_families(tables):
    crossings = tables["crossings"]
    betas = crossings[crossings["parameterization"] == "stable"]["crossing_beta"]
    assert np.allclose(betas, betas.iloc[0], rtol=0.1)  # one crossing region, as built
    results = claims_table(
        [stable("stable", "unstable", "crossing"), cursed("unstable", "crossing")],
        tables,
        SETTINGS,
    )
    assert verdicts(results)["stable"] == "holds" and verdicts(results)["curse"] == "holds"


def test_fewer_replicates_than_the_minimum_are_inconclusive():
    two_seeds = summaries({"stable": True, "unstable": False}, seeds=(0, 1))
    results = claims_table([stable("stable", "unstable")], two_seeds, SETTINGS)
    assert set(results["verdict"]) == {"inconclusive"} and results["ci_low"].isna().all()
    assert results["value"].notna().all()  # the estimate is still reported


def test_intervals_resample_seeds_not_rows():
    # three identical seeds: a seed bootstrap has nothing to vary, a row bootstrap would
    same = pd.concat([family_draws("stable", True, 0).assign(seed=seed) for seed in (0, 1, 2)])
    tables = {"stability": stability_table(same, None, {"pol": 1.0}, 1.0)}
    condition = Condition("kept", "s", "stability", "radius_trend", "at least", -0.15)
    row = claims_table([Claim("c", "f", "s", (condition,))], tables, SETTINGS).iloc[0]
    exact = claims_table([Claim("c", "f", "s", (condition,), unit=None)], tables, SETTINGS).iloc[0]
    assert (row["ci_low"], row["ci_high"]) == (exact["ci_low"], exact["ci_high"])  # every resample alike
    assert row["ci_low"] <= row["value"] <= row["ci_high"] and row["ci_high"] - row["ci_low"] < 0.01


def model_row(parameterization, width, seed, radius, low, high) -> dict:
    return {"parameterization": parameterization, "width": width, "seed": seed, "stability_radius": radius,
            "radius_low": low, "radius_high": high, "error_at_zero": 1.0 / width}  # fmt: skip


def test_collapsed_radii_count_as_shrinking_and_unreached_radii_as_unknown():
    rows = []
    for seed in range(3):
        for width, radius in zip(WIDTHS, [0.1, 0.05, 0.0, 0.0], strict=True):  # collapses below the grid
            rows.append(model_row("collapse", width, seed, radius, radius, radius if radius else 1e-3))
        for width in WIDTHS:  # never reaches the threshold on the grid: [beta_max, inf)
            rows.append(model_row("unreached", width, seed, 2.0, 2.0, np.inf))
    tables = {"stability": pd.DataFrame(rows)}
    results = claims_table(
        [cursed("collapse"), cursed("unreached"), stable("unreached", "collapse")],
        tables,
        SETTINGS,
    ).set_index("claim")
    assert results.loc["curse", "verdict"].tolist() == ["holds", "inconclusive"]
    assert results.loc["curse", "censored"].tolist() == [6, 12]
    # radii beyond the grid at every width could shrink or grow: nothing is known about their trend
    assert (
        results.loc["stable.radius", "verdict"] == results.loc["stable.contrast", "verdict"] == "inconclusive"
    )


def test_fraction_uses_the_certain_and_possible_bounds():
    pairs = pd.DataFrame(
        {
            "seed": [0, 1, 2, 0, 1, 2],
            "pol_below_exp": [True, True, True, False, True, True],
            "pol_below_exp_low": [True, True, True, False, False, False],
            "pol_below_exp_high": [True, True, True, True, True, True],
        }
    )
    claim = Claim(
        "c", "f", "s", (Condition("f", "s", "pairs", "fraction", "at least", 0.5, {}, "pol_below_exp"),)
    )
    row = claims_table([claim], {"pairs": pairs}, SETTINGS).iloc[0]
    assert row["value"] == pytest.approx(5 / 6) and row["ci_low"] == 0.5 and row["ci_high"] == 1.0
    assert row["verdict"] == "holds"
    strict = Claim(
        "c", "f", "s", (Condition("f", "s", "pairs", "fraction", "at least", 0.6, {}, "pol_below_exp"),)
    )
    assert claims_table([strict], {"pairs": pairs}, SETTINGS).iloc[0]["verdict"] == "inconclusive"


def test_radius_pairs_compare_targets_cell_by_cell_with_bounds():
    stability = pd.DataFrame(
        {
            "study": "trained",
            "target": ["exp", "pol", "exp", "pol", "exp", "pol"],
            "activation": "tanh",
            "parameterization": ["vanilla", "vanilla", "softplus", "softplus", "best", "best"],
            "width": 8,
            "seed": 0,
            "stability_radius": [0.5, 0.1, 0.2, 0.3, 0.0, 0.0],
            "radius_low": [0.5, 0.1, 0.2, 0.3, 0.0, 0.0],
            "radius_high": [0.5, 0.1, 0.2, 0.3, 1e-3, 1e-3],
            "relative_error_at_zero": [0.1, 0.1, 0.1, 0.6, 0.1, 0.1],
        }
    )
    pairs = radius_pairs(stability, {"exp": "exp", "pol": "pol"}, learned=0.5).set_index("parameterization")
    assert pairs.loc["vanilla", "pol_below_exp"] and pairs.loc["vanilla", "pol_below_exp_low"]
    assert not pairs.loc["softplus", "pol_below_exp"] and not pairs.loc["softplus", "both_learned"]
    # both below the grid: not below for sure, possibly below
    assert not pairs.loc["best", "pol_below_exp_low"] and pairs.loc["best", "pol_below_exp_high"]


#: Every censoring case of a crossing (docs/claims.md): its interval from a resolved β, and its point value.
CROSSING_CASES = {
    "resolved": (lambda beta: (beta, beta), lambda beta: beta),
    "before the grid": (lambda beta: (0.0, BETAS[1]), lambda beta: BETAS[1]),
    "beyond the grid": (lambda beta: (BETAS[-1], np.inf), lambda beta: BETAS[-1]),
    "no advantage at 0": (lambda beta: (0.0, 0.0), lambda beta: 0.0),
}


def test_crossing_pairs_compare_targets_width_pair_by_width_pair_with_bounds():
    """crossing_pairs against a direct computation, cell by cell: random crossings of every censoring case
    and random E_m(0)/E_null, a model missing from the stability table, rows of another study and of a third
    target left out."""
    generator = np.random.default_rng(0)
    names = ["study", "target", "activation", "parameterization", "seed"]
    crossed, learned = {}, {}  # (family, width_small) -> (low, high, point); (family, width) -> learned
    for family in itertools.product(
        ["trained", "nonlinear"],
        ["exp", "pol", "other"],
        ["tanh", "relu"],
        ["vanilla", "softplus"],
        [0, 1, 2],
    ):
        for small in WIDTHS[:-1]:
            interval, point = CROSSING_CASES[generator.choice(list(CROSSING_CASES))]
            beta = float(generator.uniform(BETAS[1], BETAS[-1]))
            crossed[(*family, small)] = (*interval(beta), point(beta))
        for width in WIDTHS:
            learned[(*family, width)] = generator.uniform(0, 0.7)
    del learned[("trained", "exp", "tanh", "vanilla", 0, 8)]  # missing: did not learn
    crossings = pd.DataFrame(
        [
            {**dict(zip(names, key, strict=False)), "width_small": key[-1], "width_large": 2 * key[-1],
             "crossing_beta": np.nan, "crossing_low": low, "crossing_high": high}
            for key, (low, high, _) in crossed.items()
        ]
    )  # fmt: skip
    stability = pd.DataFrame(
        [
            {**dict(zip(names, key, strict=False)), "width": key[-1], "relative_error_at_zero": relative}
            for key, relative in learned.items()
        ]
    )
    expected = []
    for key in crossed:
        study, target, *cell, small = key
        if (study, target) != ("trained", "exp"):
            continue
        exp_low, exp_high, exp_point = crossed[key]
        pol_low, pol_high, pol_point = crossed[(study, "pol", *cell, small)]
        both = all(
            learned.get((study, name, *cell, width), 1.0) <= 0.5
            for name in ("exp", "pol")
            for width in (small, 2 * small)
        )
        expected.append(
            {"activation": cell[0], "parameterization": cell[1], "width_small": small,
             "width_large": 2 * small, "seed": cell[2], "exp_crossing": exp_point, "pol_crossing": pol_point,
             "pol_below_exp": pol_point < exp_point, "pol_below_exp_low": pol_high < exp_low,
             "pol_below_exp_high": pol_low < exp_high, "both_learned": both}
        )  # fmt: skip
    expected = pd.DataFrame(expected)
    keys = ["activation", "parameterization", "width_small", "width_large", "seed"]
    pairs = crossing_pairs(stability, crossings, {"exp": "exp", "pol": "pol"}, learned=0.5)
    assert len(pairs) == len(expected) == 2 * 2 * 3 * 3 and set(pairs["study"]) == {"trained"}
    pd.testing.assert_frame_equal(
        pairs[expected.columns].sort_values(keys).reset_index(drop=True),
        expected.sort_values(keys).reset_index(drop=True),
    )
    for column in ("pol_below_exp", "pol_below_exp_low", "pol_below_exp_high", "both_learned"):
        assert 0 < pairs[column].sum() < len(pairs), column  # every flag is tested both ways
    # certainly below implies below implies possibly below
    assert (~pairs["pol_below_exp_low"] | pairs["pol_below_exp"]).all()
    assert (~pairs["pol_below_exp"] | pairs["pol_below_exp_high"]).all()


def crossing_family(radii: list[float], crossings: list[float], seed: int) -> np.ndarray:
    """``E_m(β) = s (floor_m + (β / r_m)^{p_m})`` over ``BETAS`` (E_null = 1, s = 1 + 0.03 seed): each width
    reaches the zero predictor's error just before its ``radii[i]``, and consecutive widths' curves cross
    once, at ``crossings[i]`` (``p_{i+1}`` from ``p_i`` so that their power laws meet there)."""
    powers = [2.0]
    for index, crossing in enumerate(crossings):
        powers.append(powers[-1] * np.log(crossing / radii[index]) / np.log(crossing / radii[index + 1]))
    scaled = (BETAS[None, :] / np.asarray(radii)[:, None]) ** np.asarray(powers)[:, None]
    return (1 + 0.03 * seed) * (FLOORS[:, None] + scaled)


#: Figure 7's families as the authors' curves show them: without reparameterisation the radius grows with m
#: (0.01 to 0.025) while the curves cross further left (0.2, 0.1, 0.05: −0.3 decades per doubling), above
#: the zero predictor's error; with it every curve keeps the same shape above a falling floor, so wider stays
#: below narrower on the whole grid.
FIG7_RADII, FIG7_CROSSINGS = [0.010, 0.015, 0.020, 0.025], [0.2, 0.1, 0.05]


@pytest.fixture(scope="module")
def figure_7():
    config = load_config(REPO / "config.yaml")
    fig7 = config["figures"]["fig7"]
    without, with_ = fig7["parameterizations"][0], fig7["parameterizations"][-1]
    cell = {"target": fig7["target"], "activation": fig7["activation"]}
    ordered = FLOORS[:, None] + 1e4 * BETAS[None, :] ** 2
    draws = pd.concat(
        [
            frame
            for seed in (0, 1, 2)
            for frame in (
                curve_draws(crossing_family(FIG7_RADII, FIG7_CROSSINGS, seed), without, seed, **cell),
                curve_draws((1 + 0.03 * seed) * ordered, with_, seed, **cell),
            )
        ]
    )
    stability, crossings = stability_table(draws, None, {fig7["target"]: 1.0}, 1.0), crossing_table(draws)
    tables = {
        "stability": stability,
        "crossings": crossings,
        **pair_tables(stability, crossings, config["claims"]),
    }
    claims = [claim for claim in paper_claims(config) if claim.figure == "7"]
    table = with_reading(
        claims_table(claims, tables, SETTINGS), radius_reading(config, tables, SETTINGS), "radius"
    )
    return {"config": config, "tables": tables, "claims": table, "without": without, "with": with_}


def test_figure_7_is_decided_on_crossings_that_move_left_while_the_radius_grows(figure_7):
    stability, crossings = figure_7["tables"]["stability"], figure_7["tables"]["crossings"]
    unstable = stability[stability["parameterization"] == figure_7["without"]]
    for _, family in unstable.groupby("seed"):  # as built: the radius grows with m ...
        assert (np.diff(family.sort_values("width")["stability_radius"]) > 0).all()
    met = crossings[crossings["parameterization"] == figure_7["without"]]
    # ... while the crossings, resolved on the grid, move left
    assert np.allclose(
        met.sort_values(["seed", "width_small"])["crossing_beta"], FIG7_CROSSINGS * 3, rtol=0.02
    )
    assert list(figure_7["claims"].columns) == [*COLUMNS, *RADIUS_COLUMNS]
    table = figure_7["claims"].set_index("claim")
    assert table.loc["7-without", "verdict"] == "holds"
    assert table.loc["7-without.crossings", "value"] == pytest.approx(np.log10(0.5), abs=0.01)
    assert "crossing" in table.loc["7-without.crossings", "statistic"]
    # its second reading, the same claim on the radius: the radius grows, so no curse
    assert table.loc["7-without", "radius_verdict"] == "does not hold"
    assert table.loc["7-without.crossings", "radius_verdict"] == "does not hold"
    assert table.loc["7-without.crossings", "radius_value"] > 0.1  # the radius trend, decades per doubling
    error = table.loc["7-without.error"]  # a condition both readings share reads the same
    assert (error["radius_value"], error["radius_verdict"]) == (error["value"], error["verdict"])
    markdown, comparison = markdown_table(figure_7["claims"]), comparison_table(figure_7["claims"])
    assert "| radius reading |" in markdown.splitlines()[0] and "| does not hold: " in markdown
    assert comparison.splitlines()[0].endswith("| radius reading (second) |")
    (row,) = [line for line in comparison.splitlines() if "without reparameterisation" in line]
    assert "**holds**" in row and row.split(" | ")[-1].startswith("does not hold: ")


def test_a_family_that_never_crosses_on_the_grid_is_neither_stable_nor_cursed(figure_7):
    """A family whose wider curves stay below the narrower ones on the whole grid, with E_m(0) falling: every
    crossing is censored to [β_max, ∞), so its crossing trend could be anything and Figure 7's stable claim on
    it is inconclusive (neither does it hold nor fail), as is a curse claim on it."""
    crossings = figure_7["tables"]["crossings"]
    ordered = crossings[crossings["parameterization"] == figure_7["with"]]
    assert len(ordered) == 9 and (ordered["crossing_low"] == BETAS[-1]).all()
    assert np.isinf(ordered["crossing_high"]).all()
    table = figure_7["claims"].set_index("claim")
    assert table.loc["7-with-softplus.error", "verdict"] == "holds"
    kept = table.loc["7-with-softplus.crossings"]
    assert kept["verdict"] == "inconclusive" and (kept["ci_low"], kept["ci_high"]) == (-np.inf, np.inf)
    assert (
        table.loc["7-with-softplus.contrast", "verdict"]
        == table.loc["7-with-softplus", "verdict"]
        == "inconclusive"
    )
    assert table.loc["7-with-softplus", "censored"] == len(ordered)  # each censored crossing counted once
    cursed = curse_claim("c", "7", "s", "crossing", {"parameterization": figure_7["with"]}, THRESHOLDS)
    assert claims_table([cursed], figure_7["tables"], SETTINGS).iloc[-1]["verdict"] == "inconclusive"
    # on the radius (the same curves reach E_null at one β for every m) it keeps its place, but the
    # unreparameterised family's grows faster: the second reading says no
    assert table.loc["7-with-softplus.crossings", "radius_verdict"] == "holds"
    assert (
        table.loc["7-with-softplus.contrast", "radius_verdict"]
        == table.loc["7-with-softplus", "radius_verdict"]
        == "does not hold"
    )


def test_figure_3_needs_three_survivors():
    teachers = pd.DataFrame(
        {"target": ["a", "b", "c", "d"], "survived": [True, True, False, False], "decays": True}
    )
    condition = Condition("e", "s", "teachers", "fraction", "at least", 1.0, {"survived": True}, "decays")
    claim = Claim("3", "3", "s", (condition,), unit="target")
    assert claims_table([claim], {"teachers": teachers}, SETTINGS).iloc[0]["verdict"] == "inconclusive"
    survivors = teachers.assign(survived=[True, True, True, False])
    assert claims_table([claim], {"teachers": survivors}, SETTINGS).iloc[0]["verdict"] == "holds"


def test_figure_10_decides_on_scale_not_shape():
    t = np.arange(300.0)
    slow, fast = np.exp(-0.1 * t), np.exp(-0.5 * t)
    different = definition_agreement(slow, fast)
    assert different["log_correlation"] == pytest.approx(1.0)  # same shape on log axes
    same = definition_agreement(slow, slow * (1 + 1e-3 * np.sin(t)))
    config = load_config(REPO / "config.yaml")
    (claim,) = [c for c in paper_claims(config) if c.claim == "10-rnn"]
    rows = [
        {"family": "rnn", "seed": s, **(different if pair == "d" else same)} for s in range(3) for pair in "d"
    ]
    results = claims_table([claim], {"definitions": pd.DataFrame(rows)}, SETTINGS)
    assert results.iloc[0]["verdict"] == "does not hold" and "log_correlation = 1" in results.iloc[0]["note"]
    rows = [{"family": "rnn", "seed": s, **same} for s in range(3)]
    assert claims_table([claim], {"definitions": pd.DataFrame(rows)}, SETTINGS).iloc[0]["verdict"] == "holds"


def test_an_exact_claim_needs_no_replicates():
    nondecaying = pd.DataFrame({"model": ["paper 2-D"], "tail_ratio": [1.0]})
    config = load_config(REPO / "config.yaml")
    (claim,) = [c for c in paper_claims(config) if c.claim == "11"]
    row = claims_table([claim], {"nondecaying": nondecaying}, SETTINGS).iloc[0]
    assert row["verdict"] == "holds" and row["ci_low"] == row["ci_high"] == 1.0


def classification_runs(losses: dict[str, list[float]], epoch: int = 4) -> pd.DataFrame:
    """Histories with one row per (parameterisation, seed) at ``epoch``: ``losses[p][seed]`` (NaN: diverged
    there; None: no row, diverged earlier)."""
    rows = [
        {
            "dataset": "d",
            "parameterization": p,
            "width": 32,
            "seed": seed,
            "epoch": e,
            "validation_loss": loss,
        }
        for p, values in losses.items()
        for seed, loss in enumerate(values)
        for e in (0, epoch)
        if e == 0 or loss is not None
    ]
    return pd.DataFrame(rows).assign(
        validation_loss=lambda t: t["validation_loss"].where(t["epoch"] > 0, 2.3)
    )


def test_figure_9_claim_counts_a_diverged_baseline_as_the_worst_and_needs_a_real_gap():
    config = load_config(REPO / "config.yaml")
    section = {**config["classification"], "parameterizations": ["direct", "softplus", "exp"], "epochs": 4}
    claim = classification_claim(section, gap=0.001)
    assert "epoch 4" in claim.statement

    def verdict_of(losses):
        rows = at_epoch(classification_runs(losses), 4)
        return claims_table([claim], {"classification": rows}, SETTINGS).iloc[0]

    lower = {"direct": [2.0, 2.1, 2.2], "softplus": [1.5, 1.6, 1.7], "exp": [1.6, 1.5, 1.8]}
    assert verdict_of(lower)["verdict"] == "holds"
    higher = {"direct": [1.0, 1.1, 1.2], "softplus": [1.5, 1.6, 1.7], "exp": [1.6, 1.5, 1.8]}
    assert verdict_of(higher)["verdict"] == "does not hold"
    # a baseline that diverged (NaN at the epoch, or stopped before it) is the worst, never left out
    diverged = {"direct": [np.nan, None, 3.0], "softplus": [1.5, 1.6, 1.7], "exp": [1.6, 1.5, 1.8]}
    assert verdict_of(diverged)["verdict"] == "holds"
    left_out = {"direct": [np.nan, None, 1.0], "softplus": [1.5, 1.6, 1.7], "exp": [1.6, 1.5, 1.8]}
    assert verdict_of(left_out)["verdict"] == "inconclusive"  # dropping the diverged seeds would say no
    # equal up to a rounding error: not lower
    tied = {
        "direct": [1.5, 1.6, 1.7],
        "softplus": [1.5 - 1e-15, 1.6 - 1e-15, 1.7 - 1e-15],
        "exp": [1.5, 1.6, 1.7],
    }
    assert verdict_of(tied)["verdict"] == "does not hold"


def control_tables(config: dict) -> dict[str, pd.DataFrame]:
    """Every table the paper's controlled claims read, for models that learned nothing: every family of
    every study at its initialisation-like errors (E_m(0) near E_null in no order of m), stable- and
    unstable-shaped alike, with three seeds."""
    frames = []
    for study, grid in {"trained": config["grid"], **config["studies"], "lstsq": None}.items():
        if grid is None:
            grid = {"targets": config["lstsq"]["targets"], "activations": ["linear"],
                    "parameterizations": config["lstsq"]["parameterizations"]}  # fmt: skip
        for target in grid["targets"]:
            for activation in grid["activations"]:
                for index, parameterization in enumerate(grid["parameterizations"]):
                    for seed in range(3):
                        draws = family_draws(parameterization, index % 2 == 0, seed, learned=False)
                        frames.append(draws.assign(study=study, target=target, activation=activation))
    draws = pd.concat(frames, ignore_index=True)
    null = dict.fromkeys(draws["target"].unique(), 1.0)
    stability, crossings = stability_table(draws, None, null, 1.0), crossing_table(draws)
    teachers = stability[stability["study"] == "teacher_rnn"].drop_duplicates("target")
    teachers = teachers.assign(survived=False, decays_exponentially=True)
    return {
        "stability": stability,
        "crossings": crossings,
        **pair_tables(stability, crossings, config["claims"]),
        "teachers": teachers,
        "classification": at_epoch(initial_classification(config["classification"]), 0),
    }


def initial_classification(section: dict) -> pd.DataFrame:
    """Figure 9's runs at initialisation: every parameterisation of a seed has the same weights, so the
    same validation loss up to rounding, here the baseline's a rounding error above the others'."""
    rows = [
        {
            "dataset": "mnist_5k",
            "parameterization": parameterization,
            "width": width,
            "seed": seed,
            "epoch": 0,
            "validation_loss": (2.3 + 0.1 * seed) * (1 + 1e-15 * (parameterization == section["baseline"])),
        }
        for parameterization in section["parameterizations"]
        for width in section["widths"]
        for seed in section["seeds"]
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("preset", ["config.yaml", "presets/paper.yaml"])
def test_no_paper_claim_holds_on_untrained_controls(preset):
    config = load_config(REPO / "config.yaml", *([REPO / preset] if preset != "config.yaml" else []))
    claims = controlled(paper_claims(config))
    assert {claim.claim for claim in claims} >= {
        "1a",
        "1b",
        "2",
        "3",
        "7-without",
        "7-with-softplus",
        "curse",
        "9",
        "12",
    }
    tables = control_tables(config)
    results = claims_table(claims, tables, {**SETTINGS, "resamples": 100})
    top = results[~results["claim"].str.contains(".", regex=False)]
    assert len(top) == len(claims) and not top["holds"].any(), top[top["holds"]]
    assert len(tables["crossing_pairs"]) and not tables["crossing_pairs"]["both_learned"].any()
    # nor does the second reading of Figures 7, 8 and curse, on the stability radius
    reading = radius_reading(config, tables, {**SETTINGS, "resamples": 100})
    assert reading["claim"].str.match(r"(7-|8-|curse)").all() and not reading["holds"].any()


def test_a_claim_that_also_holds_on_its_control_is_inconclusive(tables):
    results = claims_table([stable("stable", "unstable"), cursed("unstable")], tables, SETTINGS)
    controls = results.assign(control="initialization")
    controls.loc[controls["claim"] == "curse", ["verdict", "holds"]] = ["does not hold", False]
    table = with_controls(results, controls).set_index("claim")
    assert table.loc["stable", "verdict"] == "inconclusive" and "control" in table.loc["stable", "note"]
    assert table.loc["curse", "verdict"] == "holds"
    assert table.loc["curse", "control"] == "initialization: does not hold"
    assert (table["holds"] == (table["verdict"] == "holds")).all()


def test_the_worst_case_column_decides_the_claims_its_tables_cover(tables):
    """Claims evaluated again on worst-case tables in which the stable family has become unstable (the
    sup moves its radius left): that claim's worst-case verdict flips, a claim on a family the worst case
    did not cover gets none, and both Markdown tables show the column."""
    claims = [stable("stable", "unstable"), cursed("unstable"), stable("other", "unstable")]
    results = claims_table(claims[:2], tables, SETTINGS)
    worst_tables = summaries({"stable": False, "unstable": False})
    decided = covered(claims, worst_tables)
    assert [claim.conditions[0].select["parameterization"] for claim in decided] == ["stable", "unstable"]
    worst = claims_table(decided, worst_tables, SETTINGS)
    table = with_worst_case(results, worst, "max").set_index("claim")
    assert (
        table.loc["stable", "verdict"] == "holds"
        and table.loc["stable", "worst_case_verdict"] == "does not hold"
    )
    assert (
        table.loc["curse", "worst_case_verdict"] == "holds" and table.loc["curse", "worst_case_norm"] == "max"
    )
    assert table.loc["stable.radius", "worst_case_value"] < table.loc["stable.radius", "value"]
    partial = with_worst_case(results, worst[worst["claim"].str.startswith("curse")], "max").set_index(
        "claim"
    )
    assert (
        partial.loc["stable", "worst_case_verdict"] == "" and partial.loc["stable", "worst_case_norm"] == ""
    )
    markdown = markdown_table(table.reset_index())
    assert "| worst case |" in markdown.splitlines()[0] and "| does not hold: " in markdown
    comparison = comparison_table(table.reset_index())
    assert (
        comparison.splitlines()[0].endswith("| worst-case perturbations |")
        and "does not hold: " in comparison
    )
    assert "worst case" not in markdown_table(results) and "worst-case" not in comparison_table(results)


def main_grid_tables(config: dict, stable_softplus: bool) -> dict[str, pd.DataFrame]:
    """The tables the claims read, for a main grid of Figures 7 and 8's activations: on pol memory vanilla
    unstable and softplus stable (or, not ``stable_softplus``, unstable too), on exp memory both stable."""
    figures = config["figures"]
    activations = [figures["fig7"]["activation"], *figures["fig8"]["activations"]]
    shapes = {
        "pol": {"vanilla": False, "softplus": stable_softplus},
        "exp": {"vanilla": True, "softplus": True},
    }
    draws = pd.concat(
        [
            family_draws(parameterization, stable, seed, target=target, activation=activation)
            for target, forms in shapes.items()
            for activation in activations
            for parameterization, stable in forms.items()
            for seed in (0, 1, 2)
        ]
    )
    stability = stability_table(draws, None, {"pol": 1.0, "exp": 1.0}, 1.0)
    crossings = crossing_table(draws)
    return {
        "stability": stability,
        "crossings": crossings,
        **pair_tables(stability, crossings, config["claims"]),
    }


def test_figures_7_and_8_claim_every_configured_form_against_the_baseline():
    """The claims follow the config: one per stable form of Figure 7 and per (form, activation) of Figure
    8, each contrasted with `claims.baseline_parameterization`, whatever order the forms are listed in."""
    config = load_config(REPO / "config.yaml")
    config["figures"]["fig7"] = {
        "target": "exp",
        "activation": "tanh",
        "parameterizations": ["softplus", "vanilla", "exp"],
    }
    config["figures"]["fig8"] = {
        "target": "pol",
        "activations": ["relu"],
        "parameterizations": ["exp", "softplus"],
    }
    claims = {claim.claim: claim for claim in main_grid_claims(config, "crossing")}
    assert list(claims) == [
        "7-without", "7-with-softplus", "7-with-exp", "8-relu-exp", "8-relu-softplus", "curse"
    ]  # fmt: skip
    without = {condition.name: condition for condition in claims["7-without"].conditions}
    assert {condition.select["parameterization"] for condition in without.values()} == {"vanilla"}
    for name, target, activation, form in (
        ("7-with-exp", "exp", "tanh", "exp"),
        ("8-relu-softplus", "pol", "relu", "softplus"),
    ):
        claim = claims[name]
        assert (
            claim.statement
            == f"{activation} RNN with {form} reparameterisation approximates {target} memory stably, "
            "unlike vanilla"
        )
        contrast = next(condition for condition in claim.conditions if condition.baseline is not None)
        assert (
            contrast.select["parameterization"] == form and contrast.baseline["parameterization"] == "vanilla"
        )
        assert contrast.select["activation"] == contrast.baseline["activation"] == activation
    # without the baseline among Figure 7's forms there is no claim on it
    config["figures"]["fig7"]["parameterizations"] = ["softplus"]
    assert [claim.claim for claim in main_grid_claims(config, "crossing")][:2] == [
        "7-with-softplus",
        "8-relu-exp",
    ]


def test_the_worst_case_column_decides_figures_7_8_and_curse_on_the_crossings():
    """The worst-case tables (here: the softplus families become unstable) cover exactly the main grid's
    claims, 7, 8 and curse, and decide them on the crossings: the stable claims' verdicts flip there."""
    config = load_config(REPO / "config.yaml")
    worst_tables = main_grid_tables(config, stable_softplus=False)
    decided = covered(controlled(paper_claims(config)), worst_tables)
    expected = [claim.claim for claim in main_grid_claims(config, "crossing")]
    assert (
        [claim.claim for claim in decided]
        == expected
        == ["7-without", "7-with-softplus", "8-hardtanh-softplus", "8-tanh-softplus", "curse"]
    )
    results = claims_table(decided, main_grid_tables(config, stable_softplus=True), SETTINGS)
    table = with_worst_case(results, claims_table(decided, worst_tables, SETTINGS), "max").set_index("claim")
    for stable in ("7-with-softplus", "8-hardtanh-softplus", "8-tanh-softplus"):
        assert (
            table.loc[stable, "verdict"] == "holds"
            and table.loc[stable, "worst_case_verdict"] == "does not hold"
        )
        crossings = table.loc[f"{stable}.crossings"]
        assert crossings["worst_case_value"] < crossings["value"] and "crossing" in crossings["statistic"]
    assert table.loc["7-without", "verdict"] == table.loc["7-without", "worst_case_verdict"] == "holds"
    # pol's crossings (below 1e-4) left of exp's (0.01) in every vanilla width pair, certainly
    curse = table.loc["curse"]
    assert (curse["value"], curse["ci_low"], curse["worst_case_value"]) == (1.0, 1.0, 1.0)
    assert curse["worst_case_verdict"] == "holds" and "pol_below_exp" in curse["statistic"]


def test_a_study_switched_off_takes_exactly_its_figures_claims_away():
    """Each builder of CLAIM_BUILDERS reads its own switch: with one study off only its figure's claims go,
    in the same order as before for the rest."""
    config = load_config(REPO / "config.yaml")
    every = [claim.claim for claim in paper_claims(config)]
    switched_off = {
        "9": {**config, "classification": {**config["classification"], "enabled": False}},
        "lr": {**config, "learning_rate_stability": {**config["learning_rate_stability"], "enabled": False}},
        "12": {
            **config,
            "studies": {k: v for k, v in config["studies"].items() if k != "teacher_transformer"},
        },
        "1a": {**config, "lstsq": {**config["lstsq"], "targets": []}},
    }
    least_squares = {"1a", "1b", "4"}
    for figure, changed in switched_off.items():
        gone = least_squares if figure == "1a" else {figure}
        expected = [claim.claim for claim in paper_claims(config) if claim.figure not in gone]
        assert [claim.claim for claim in paper_claims(changed)] == expected != every, figure


def test_paper_claims_cover_every_configured_figure_and_render_as_markdown(tables):
    config = load_config(REPO / "config.yaml")
    claims = paper_claims(config)
    assert {c.figure for c in claims} == {
        "1a",
        "1b",
        "2",
        "3",
        "4",
        "7",
        "8",
        "7/8 grid",
        "9",
        "10",
        "11",
        "12",
        "lr",
    }
    assert len({c.claim for c in claims}) == len(claims)
    results = claims_table([stable("stable", "unstable")], tables, SETTINGS)
    assert list(results.columns) == COLUMNS
    assert markdown_table(results).count("\n") == len(results) + 2 and "| holds |" in markdown_table(results)


def test_the_comparison_table_has_a_row_per_claim_and_its_conditions_inside_it(tables):
    results = claims_table([stable("stable", "unstable"), cursed("stable")], tables, SETTINGS)
    table = comparison_table(results)
    assert table.count("\n") == 2 + (~results["claim"].str.contains(".", regex=False)).sum()
    assert table.count("**holds**") == 1 and table.count("**does not hold**") == 1  # conditions: not rows


def test_widest_to_narrowest_passes_fails_and_needs_replicates():
    def students(ratio: float, seeds=(0, 1, 2)) -> pd.DataFrame:
        rows = [
            {"target": "t", "seed": seed, "width": width, "error_at_zero": error * (1 + 0.01 * seed)}
            for seed in seeds
            for width, error in [(8, 1.0), (16, (1 + ratio) / 2), (32, ratio)]
        ]
        return pd.DataFrame(rows)

    claim = Claim(
        "12", "12", "s", (Condition("r", "s", "stability", "widest_to_narrowest", "at least", 0.5),)
    )
    assert claims_table([claim], {"stability": students(0.9)}, SETTINGS).iloc[0]["verdict"] == "holds"
    assert claims_table([claim], {"stability": students(0.1)}, SETTINGS).iloc[0]["verdict"] == "does not hold"
    row = claims_table([claim], {"stability": students(0.9, seeds=(0,))}, SETTINGS).iloc[0]
    assert row["verdict"] == "inconclusive" and row["value"] == pytest.approx(0.9)


def test_a_fraction_wholly_below_its_threshold_does_not_hold():
    teachers = pd.DataFrame({"target": list("abcd"), "survived": True, "decays": [True, False, False, False]})
    condition = Condition("e", "s", "teachers", "fraction", "at least", 1.0, {"survived": True}, "decays")
    row = claims_table([Claim("3", "3", "s", (condition,), unit="target")], {"teachers": teachers}, SETTINGS)
    assert row.iloc[0]["verdict"] == "does not hold" and row.iloc[0]["value"] == 0.25
