"""docs/results.md's numbers: E_m(0) sequences, Figure 1a's criterion, monotone pairs, the page itself."""

import numpy as np
import pandas as pd

from curse_of_memory.claims import COLUMNS, RADIUS_COLUMNS
from curse_of_memory.results_page import (
    crossing_table,
    error_sequence,
    errors_fall,
    fit_table,
    lstsq_section,
    monotone_errors,
    norm_table,
    radius_reading_section,
    radius_table,
    results_page,
    worst_case_section,
)


def constructions() -> pd.DataFrame:
    rows = []
    errors = {"exp_lstsq": [1.0, 0.1, 0.01], "pol_lstsq": [1.0, 1e-14, 1e-15]}
    for fit in ("regression", "free_rates"):
        for target, values in errors.items():
            for index, (small, large) in enumerate(zip(values, values[1:], strict=False)):
                rows.append(
                    {
                        "fit": fit,
                        "perturbed": "all",
                        "target": target,
                        "parameterization": "direct",
                        "width_small": 2 * (index + 1),
                        "width_large": 2 * (index + 2),
                        "error_at_zero_small": small,
                        "error_at_zero_large": large,
                        "crossing_beta": [0.1, 0.001][index],
                        "draw_crossing_median": 0.1,
                        "draw_crossing_min": 0.01,
                        "draw_crossing_max": 1.0,
                        "draws_crossed": 10,
                    }
                )
    return pd.DataFrame(rows)


def stability() -> pd.DataFrame:
    rows = []
    for seed in (0, 1, 2):
        for width, error in zip((8, 16, 32), (1.0, 0.5, 0.7 if seed == 0 else 0.2), strict=True):
            rows.append(
                {
                    "study": "trained",
                    "target": "pol",
                    "activation": "tanh",
                    "parameterization": "softplus",
                    "width": width,
                    "seed": seed,
                    "error_at_zero": error,
                    "relative_error_at_zero": error / 10,
                    "stability_radius": 0.1 * (seed + 1),
                }
            )
    return pd.DataFrame(rows)


def crossings() -> pd.DataFrame:
    """Per seed, the pairs 8/16 (resolved at 0.02, 0.04, 0.08) and 16/32 (seed 2 beyond a grid ending
    at 1.0; seeds 0, 1 at 0.01)."""
    rows = []
    for seed in (0, 1, 2):
        for small, large, low, high in ((8, 16, 0.02 * 2**seed, 0.02 * 2**seed), (16, 32, 0.01, 0.01)):
            if (large, seed) == (32, 2):
                low, high = 1.0, np.inf
            rows.append(
                {
                    "study": "trained",
                    "target": "pol",
                    "activation": "tanh",
                    "parameterization": "softplus",
                    "seed": seed,
                    "width_small": small,
                    "width_large": large,
                    "crossing_beta": np.nan,
                    "crossing_low": low,
                    "crossing_high": high,
                }
            )
    return pd.DataFrame(rows)


def test_error_sequence_recovers_every_width_in_order():
    pairs = constructions()
    exp = pairs[(pairs["fit"] == "regression") & (pairs["target"] == "exp_lstsq")].iloc[::-1]
    np.testing.assert_array_equal(error_sequence(exp), [1.0, 0.1, 0.01])


def test_errors_fall_needs_monotone_tenfold_and_above_round_off():
    assert errors_fall(np.array([1.0, 0.1, 0.01]))
    assert not errors_fall(np.array([1.0, 0.1, 0.2, 0.01]))  # not monotone
    assert not errors_fall(np.array([1.0, 0.5, 0.2]))  # only 5x
    assert not errors_fall(np.array([1e-14, 1e-15, 1e-16]))  # round-off


def test_monotone_errors_counts_consecutive_pairs_per_seed():
    # seed 0: 1 -> 0.5 (falls), 0.5 -> 0.7 (rises); seeds 1, 2: both fall
    assert monotone_errors(stability()) == (5, 6)


def test_page_quotes_the_tables():
    claims = pd.DataFrame(
        [
            {
                "claim": "1a-errors",
                "figure": "1a",
                "statement": "E_m(0) falls",
                "statistic": "slope",
                "value": -1.0,
                "ci_low": -2.0,
                "ci_high": -0.5,
                "test": "value < threshold",
                "threshold": 0.0,
                "verdict": "holds",
                "holds": True,
                "control": "initialization: does not hold",
            }
        ]
    )
    lstsq = {"fit": "regression", "perturbed": "all", "widths": [2, 4, 6]}
    page = results_page(constructions(), stability(), crossings(), claims, lstsq)
    assert "E_m(0) falls with m: **reproduced**" in page
    assert "5 of 6 consecutive-width pairs (83%" in page
    assert "| regression **(default)** | all | exp_lstsq | direct | 1 0.1 0.01 | yes |" in page
    assert "| free_rates | all | pol_lstsq | direct | 1 1e-14 1e-15 | no |" in page
    assert "0.01" in lstsq_section(constructions(), "regression", "all")  # last / first crossing: 0.001/0.1
    assert "| pol | tanh | softplus | 0.2 [0.1, 0.3] |" in radius_table(stability())
    assert "**holds**: slope = -1 [-2, -0.5] (needs < 0) | initialization: does not hold |" in page


def test_figures_7_and_8_show_the_verdict_on_crossings_beside_the_radius_reading(tmp_path):
    """The claims' own rows that have a radius reading, read back from CSV as the rule reads them (an empty
    reading comes back as NaN): a condition's row and a claim without the reading stay out."""

    def row(claim: str, verdict: str, radius: tuple) -> dict:
        return {"claim": claim, "figure": claim[:2].strip("-"), "statement": f"{claim} says",
                "statistic": "s", "value": -0.3, "ci_low": -0.4, "ci_high": -0.2, "test": "value < threshold",
                "threshold": -0.15, "verdict": verdict, "holds": verdict == "holds", "replicates": 3,
                "censored": 0, "note": "", **dict(zip(RADIUS_COLUMNS, radius, strict=True))}  # fmt: skip

    claims = pd.DataFrame(
        [
            row("7-without.crossings", "holds", (0.13, 0.1, 0.2, "does not hold")),
            row("7-without", "holds", (0.13, 0.1, 0.2, "does not hold")),
            row("1a", "inconclusive", (np.nan, np.nan, np.nan, "")),
        ]
    )
    claims.to_csv(tmp_path / "claims.csv", index=False)
    section = radius_reading_section(pd.read_csv(tmp_path / "claims.csv"))
    (line,) = [line for line in section.splitlines() if line.startswith("| 7-")]
    assert (
        line == "| 7-without | 7-without says | holds: -0.3 [-0.4, -0.2] | does not hold: 0.13 [0.1, 0.2] |"
    )
    assert "1a" not in section and "Definition 3.5" in section
    lstsq = {"fit": "regression", "perturbed": "all", "widths": [2, 4, 6]}
    assert section in results_page(
        constructions(), stability(), crossings(), pd.read_csv(tmp_path / "claims.csv"), lstsq
    )
    assert radius_reading_section(pd.DataFrame(columns=COLUMNS)) == ""  # a claims table without the reading


def test_norm_table_puts_both_norms_side_by_side():
    spectral = stability().assign(stability_radius=lambda frame: 2 * frame["stability_radius"])
    table = norm_table(stability(), spectral)
    assert "| pol | tanh | softplus | 0.2 / 0.4 | 0.2 / 0.4 | 0.2 / 0.4 |" in table
    lstsq = {"fit": "regression", "perturbed": "all", "widths": [2, 4, 6]}
    claims = pd.DataFrame(columns=COLUMNS)
    assert "## Perturbation norm" in results_page(
        constructions(), stability(), crossings(), claims, lstsq, spectral
    )
    assert "## Perturbation norm" not in results_page(
        constructions(), stability(), crossings(), claims, lstsq
    )


def test_worst_case_section_sets_both_radii_side_by_side_and_counts_collapses():
    random = stability().rename(columns={"stability_radius": "random_stability_radius"})
    worst = random.assign(stability_radius=lambda frame: frame["random_stability_radius"] / 4, norm="max")
    worst.loc[0, "stability_radius"] = 0.0  # seed 0, width 8: the worst case collapses its radius
    section = worst_case_section(worst)
    assert "| pol | tanh | softplus | 0.2 / 0.05 | 0.2 / 0.05 | 0.2 / 0.05 |" in section
    assert (
        "0.25 times the random draws'\n(median over the 9 models" in section
        and "1 of them fall to radius 0" in section
    )
    lstsq = {"fit": "regression", "perturbed": "all", "widths": [2, 4, 6]}
    claims = pd.DataFrame(columns=COLUMNS)
    page = results_page(constructions(), stability(), crossings(), claims, lstsq, worst_case=worst)
    assert section in page and "## Worst-case" not in results_page(
        constructions(), stability(), crossings(), claims, lstsq
    )


def test_figure_9_section_holds_table_1_and_ranks_the_forms_by_test_accuracy():
    test = pd.DataFrame(
        {
            "dataset": "mnist_5k",
            "parameterization": ["direct", "direct", "softplus", "softplus"],
            "width": 32,
            "seed": [0, 1, 0, 1],
            "test_loss": [2.0, 2.2, 1.0, 1.2],
            "test_accuracy": [0.2, 0.3, 0.8, 0.9],
            "best_epoch": 4,
            "diverged": False,
        }
    )
    lstsq = {"fit": "regression", "perturbed": "all", "widths": [2, 4, 6]}
    claims = pd.DataFrame(columns=COLUMNS)
    page = results_page(constructions(), stability(), crossings(), claims, lstsq, classification_test=test)
    assert "| mnist_5k | 32 | softplus | 1.1000 ± 0.1000 | 85.00% ± 5.00% | 2 | 0 |" in page
    assert "m = 32: softplus > direct." in page
    assert "## Figure 9" not in results_page(constructions(), stability(), crossings(), claims, lstsq)


def test_the_fit_and_crossing_tables_are_medians_over_seeds_with_their_ranges():
    fits = fit_table(stability())
    # m = 32: 0.07, 0.02, 0.02 over seeds: median 0.02 [0.02, 0.07]; the last row the median over cells
    assert "| pol | tanh | softplus | 0.1 [0.1, 0.1] | 0.05 [0.05, 0.05] | 0.02 [0.02, 0.07] |" in fits
    assert fits.rstrip().endswith("| median over cells | | | 0.1 | 0.05 | 0.02 |")
    table = crossing_table(crossings())
    assert "| m = 8/16 | m = 16/32 |" in table
    assert "| pol | tanh | softplus | 0.04 [0.02, 0.08] | 0.01 [0.01, 1], 1 beyond |" in table
