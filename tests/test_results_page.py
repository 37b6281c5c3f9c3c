"""docs/results.md's numbers: E_m(0) sequences, Figure 1a's criterion, monotone pairs, the page itself."""

import numpy as np
import pandas as pd

from curse_of_memory.claims import COLUMNS
from curse_of_memory.results_page import (
    error_sequence,
    errors_fall,
    lstsq_section,
    monotone_errors,
    norm_table,
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
                    "stability_radius": 0.1 * (seed + 1),
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
    page = results_page(constructions(), stability(), claims, lstsq)
    assert "E_m(0) falls with m: **reproduced**" in page
    assert "5 of 6 consecutive-width pairs (83%" in page
    assert "| regression **(default)** | all | exp_lstsq | direct | 1 0.1 0.01 | yes |" in page
    assert "| free_rates | all | pol_lstsq | direct | 1 1e-14 1e-15 | no |" in page
    assert "0.01" in lstsq_section(constructions(), "regression", "all")  # last / first crossing: 0.001/0.1
    assert "| pol | tanh | softplus | 0.2 [0.1, 0.3] |" in radius_table(stability())
    assert "**holds**: slope = -1 [-2, -0.5] (needs < 0) | initialization: does not hold |" in page


def test_norm_table_puts_both_norms_side_by_side():
    spectral = stability().assign(stability_radius=lambda frame: 2 * frame["stability_radius"])
    table = norm_table(stability(), spectral)
    assert "| pol | tanh | softplus | 0.2 / 0.4 | 0.2 / 0.4 | 0.2 / 0.4 |" in table
    lstsq = {"fit": "regression", "perturbed": "all", "widths": [2, 4, 6]}
    claims = pd.DataFrame(columns=COLUMNS)
    assert "## Perturbation norm" in results_page(constructions(), stability(), claims, lstsq, spectral)
    assert "## Perturbation norm" not in results_page(constructions(), stability(), claims, lstsq)


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
    page = results_page(constructions(), stability(), claims, lstsq, worst_case=worst)
    assert section in page and "## Worst-case" not in results_page(
        constructions(), stability(), claims, lstsq
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
    page = results_page(constructions(), stability(), claims, lstsq, classification_test=test)
    assert "| mnist_5k | 32 | softplus | 1.1000 ± 0.1000 | 85.00% ± 5.00% | 2 | 0 |" in page
    assert "m = 32: softplus > direct." in page
    assert "## Figure 9" not in results_page(constructions(), stability(), claims, lstsq)
