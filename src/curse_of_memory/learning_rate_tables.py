"""The learning-rate sweep's tables (torch-free: the summary, claims and figure jobs read them): each
model's largest stable learning rate (below the first rate that diverged) with the interval its grid
allows, and that rate per parameterisation as Markdown. The sweep itself is
:mod:`curse_of_memory.learning_rates`."""

from __future__ import annotations

import math

import pandas as pd

#: The columns of results/summary/learning_rate_stability.csv.
COLUMNS = [
    "target",
    "activation",
    "parameterization",
    "width",
    "learning_rate",
    "seed",
    "diverged",
    "final_validation_loss",
    "epochs_to_level",
    "epochs",
    "initial_validation_loss",
]


def largest_stable_learning_rates(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per (target, activation, parameterization, width, seed) of a sweep table (:data:`COLUMNS`): the
    largest stable learning rate, the largest rate of the grid below the first (smallest) one at which the
    model diverged (a larger rate that happens not to diverge does not count; 0 when the smallest rate
    diverged), and its log10 with the interval the grid allows for it (as the claims read censored
    values): from that rate to the first diverging one, to ``+inf`` when no rate diverged, from ``-inf`` to
    the smallest rate when that one diverged."""
    keys = ["target", "activation", "parameterization", "width", "seed"]
    rows = []
    for values, runs in sweep.groupby(keys, sort=False):
        rates = sorted(runs["learning_rate"].astype(float).unique())
        diverging = runs.loc[runs["diverged"].astype(bool), "learning_rate"]
        first_diverging = float(diverging.min()) if len(diverging) else math.inf
        below = [rate for rate in rates if rate < first_diverging]
        largest = below[-1] if below else 0.0
        above = [rate for rate in rates if rate > largest]
        low = math.log10(largest) if largest > 0 else -math.inf
        rows.append(
            {
                **dict(zip(keys, values, strict=True)),
                "largest_stable_learning_rate": largest,
                "log10_largest_stable_learning_rate": low,
                "log10_largest_stable_learning_rate_low": low,
                "log10_largest_stable_learning_rate_high": math.log10(above[0]) if above else math.inf,
                "smallest_learning_rate": rates[0],
                "largest_learning_rate": rates[-1],
            }
        )
    return pd.DataFrame(rows)


def largest_stable_table(sweep: pd.DataFrame) -> str:
    """The largest stable learning rate per parameterisation (rows) and target (columns) as Markdown: the
    median over seeds and widths, with the range over seeds, ``≥`` where it is the grid's largest rate."""
    largest = largest_stable_learning_rates(sweep)
    targets = list(dict.fromkeys(largest["target"]))
    lines = ["| parameterization | " + " | ".join(targets) + " |", "|---|" + "---|" * len(targets)]
    for parameterization, rows in largest.groupby("parameterization", sort=False):
        cells = []
        for target in targets:
            values = rows.loc[rows["target"] == target, "largest_stable_learning_rate"]
            top = rows.loc[rows["target"] == target, "largest_learning_rate"].max()
            median = float(values.median())
            prefix = "≥ " if median >= top else ""
            cells.append(f"{prefix}{median:.3g} [{values.min():.3g}, {values.max():.3g}]")
        lines.append(f"| {parameterization} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
