"""Tidy summary tables over a study: one row per model (stability) and per width pair (crossings).

Columns are a public interface (README "Outputs"): later studies append rows with their own
``study`` value, so every function here groups by ``study`` too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from curse_of_memory.artifacts import load_csv
from curse_of_memory.stability import crossings, error_curve, stability_radius

MODEL_KEYS = ["study", "target", "activation", "parameterization", "width", "seed"]
FAMILY_KEYS = ["study", "target", "activation", "parameterization", "seed"]


def collect_perturbation(paths: list, cells: list[dict], study: str) -> pd.DataFrame:
    """Per-model draw tables (``beta, draw, error``) stacked with their model keys, in tidy order."""
    frames = [
        load_csv(path, made_by="perturbation_error").assign(study=study, **cell)
        for path, cell in zip(paths, cells, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)[[*MODEL_KEYS, "beta", "draw", "error"]]


def null_error(outputs: np.ndarray, weights: np.ndarray) -> float:
    """The weighted MSE of the zero predictor on outputs (batch, time): ``mean((w_k y_k)²)``."""
    return float(((weights[None, :] * outputs) ** 2).mean())


def stability_table(
    perturbation: pd.DataFrame,
    margins: pd.DataFrame,
    null_errors: dict[str, float],
    threshold: float,
) -> pd.DataFrame:
    """Per model: ``error_at_zero``, ``stability_radius`` (+ ``radius_censored``), ``stability_margin``.

    ``margins`` has the model keys and ``stability_margin``; ``null_errors`` maps target → E_null.
    """
    rows = []
    for keys, draws in perturbation.groupby(MODEL_KEYS, sort=False):
        row = dict(zip(MODEL_KEYS, keys, strict=True))
        curve = error_curve(draws)
        radius = stability_radius(curve, null_errors[row["target"]], threshold)
        rows.append(
            {
                **row,
                "error_at_zero": float(curve.iloc[0]),
                "null_error": null_errors[row["target"]],
                "stability_radius": radius.value,
                "radius_censored": radius.censored,
            }
        )
    table = pd.DataFrame(rows)
    return table.merge(margins, on=MODEL_KEYS, how="left")


def crossing_table(perturbation: pd.DataFrame) -> pd.DataFrame:
    """Crossing points of consecutive widths' ``E_m(β)`` curves within each family."""
    rows = []
    for keys, family in perturbation.groupby(FAMILY_KEYS, sort=False):
        curves = {int(width): error_curve(draws) for width, draws in family.groupby("width")}
        for crossing in crossings(curves):
            rows.append({**dict(zip(FAMILY_KEYS, keys, strict=True)), **crossing})
    columns = [*FAMILY_KEYS, "width_small", "width_large", "crossing_beta"]
    return pd.DataFrame(rows, columns=columns)
