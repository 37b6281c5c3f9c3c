"""The classification study's tables (torch-free): per-run histories and tests gathered into tidy tables,
Table 1 (test loss and accuracy, mean ± standard error over seeds), and the rows its claim reads."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: The columns of results/summary/classification.csv and classification_test.csv.
HISTORY_COLUMNS = [
    "dataset",
    "parameterization",
    "width",
    "seed",
    "epoch",
    "train_loss",
    "train_accuracy",
    "validation_loss",
    "validation_accuracy",
]
TEST_COLUMNS = [
    "dataset",
    "parameterization",
    "width",
    "seed",
    "test_loss",
    "test_accuracy",
    "best_epoch",
    "diverged",
]


def dataset_label(section: dict) -> str:
    """The data set's name in tables and figures: the bundled set's, or ``idx.name`` for IDX files."""
    return section["idx"]["name"] if section["dataset"] == "idx" else section["dataset"]


def standard_error(values: pd.Series) -> float:
    """The standard error of the mean over seeds (sample standard deviation / √n); NaN for one seed."""
    values = values.dropna()
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.nan


def mean_and_error(table: pd.DataFrame, keys: list[str], columns: list[str]) -> pd.DataFrame:
    """Per group of ``keys``: each column's mean and standard error over seeds (``{column}_se``) and the
    number of seeds. A diverged run's NaN is left out of the mean and counted in ``seeds`` nowhere."""
    groups = table.groupby(keys, sort=False)
    summary = groups[columns].mean()
    for column in columns:
        summary[f"{column}_se"] = groups[column].agg(standard_error)
    summary["seeds"] = groups["seed"].nunique()
    return summary.reset_index()


def table_one(test: pd.DataFrame) -> pd.DataFrame:
    """Table 1: per data set, width and parameterisation, test loss and accuracy (mean ± standard error
    over seeds, each run's best-validation checkpoint), the number of seeds and of runs that diverged."""
    keys = ["dataset", "width", "parameterization"]
    summary = mean_and_error(test, keys, ["test_loss", "test_accuracy"])
    diverged = test.groupby(keys, sort=False)["diverged"].sum().to_numpy()
    return pd.DataFrame(
        {
            **{key: summary[key] for key in keys},
            "test loss": [
                f"{m:.4f} ± {e:.4f}"
                for m, e in zip(summary["test_loss"], summary["test_loss_se"], strict=True)
            ],
            "test accuracy": [
                f"{100 * m:.2f}% ± {100 * e:.2f}%"
                for m, e in zip(summary["test_accuracy"], summary["test_accuracy_se"], strict=True)
            ],
            "seeds": summary["seeds"],
            "diverged": diverged.astype(int),
        }
    )


def markdown(table: pd.DataFrame) -> str:
    """A data frame of display strings as a markdown table (numbers right-aligned)."""
    align = ["---:" if pd.api.types.is_numeric_dtype(table[c]) else "---" for c in table.columns]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def at_epoch(history: pd.DataFrame, epoch: int) -> pd.DataFrame:
    """Every run's row at ``epoch`` for the claims, with a validation loss of +∞ for a run that diverged
    at or before it (a NaN row, or no row): a diverged model counts as the worst, never as missing."""
    runs = history.drop_duplicates(["dataset", "parameterization", "width", "seed"])[
        ["dataset", "parameterization", "width", "seed"]
    ]
    rows = runs.merge(history[history["epoch"] == epoch], how="left", on=list(runs.columns))
    rows["epoch"] = epoch
    rows["validation_loss"] = rows["validation_loss"].fillna(np.inf)
    return rows.reset_index(drop=True)
