"""Tidy summary tables over a study: one row per model (stability) and per width pair (crossings).

Columns are a public interface (docs/configuration.md, "Outputs"): later studies append rows with their own
``study`` value, so every function here groups by ``study`` too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from curse_of_memory.artifacts import load_csv, load_dataset, load_json
from curse_of_memory.claims import trend
from curse_of_memory.decay import decays_exponentially, exponential_fit, power_law_fit
from curse_of_memory.design import FAMILY_KEYS, MODEL_KEYS
from curse_of_memory.stability import crossings, error_curve, stability_radius
from curse_of_memory.temporal_weighting import temporal_weights


def collect_perturbation(paths: list, cells: list[dict]) -> pd.DataFrame:
    """Per-model draw tables (``beta, draw, error``) stacked with their model keys (``cells`` carry
    ``study`` and the CELL keys), in tidy order."""
    frames = [
        load_csv(path, made_by="perturbation_error").assign(**cell)
        for path, cell in zip(paths, cells, strict=True)
    ]
    return pd.concat(frames, ignore_index=True)[[*MODEL_KEYS, "beta", "draw", "error"]]


def trained_margins(metrics_paths: list, cells: list[dict]) -> pd.DataFrame:
    """The stability margin each trained model's ``metrics.json`` records, with its model keys."""
    rows = [
        {**cell, "stability_margin": load_json(path, made_by="train")["stability_margin"]}
        for path, cell in zip(metrics_paths, cells, strict=True)
    ]
    return pd.DataFrame(rows, columns=[*MODEL_KEYS, "stability_margin"])


def null_error(outputs: np.ndarray, weights: np.ndarray) -> float:
    """The weighted MSE of the zero predictor on outputs (batch, time): ``mean((w_k y_k)²)``."""
    return float(((weights[None, :] * outputs) ** 2).mean())


def dataset_null_errors(paths: list, targets: list[str], evaluation: dict[str, dict]) -> dict[str, float]:
    """Per target, :func:`null_error` on its data set's first ``size`` test outputs, weighted as its
    models were trained (``evaluation[target] = {size, loss_weight_power}``)."""
    errors = {}
    for target, path in zip(targets, paths, strict=True):
        outputs = load_dataset(path)[0]["y_test"][: evaluation[target]["size"]]
        weights = temporal_weights(outputs.shape[1], evaluation[target]["loss_weight_power"])
        errors[target] = null_error(outputs, weights)
    return errors


def stability_table(
    perturbation: pd.DataFrame,
    margins: pd.DataFrame | None,
    null_errors: dict[str, float],
    threshold: float,
) -> pd.DataFrame:
    """Per model: ``error_at_zero`` (and over ``E_null``), ``stability_radius`` with the grid's interval for
    it (``radius_low``, ``radius_high``, ``radius_censoring``: see :mod:`curse_of_memory.stability`) and
    ``stability_margin``.

    ``margins`` (optional) has the model keys and ``stability_margin``; ``null_errors`` maps target → E_null
    (target names are unique across studies).
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
                "relative_error_at_zero": float(curve.iloc[0]) / null_errors[row["target"]],
                "stability_radius": radius.value,
                "radius_low": radius.low,
                "radius_high": radius.high,
                "radius_censoring": radius.censoring,
            }
        )
    table = pd.DataFrame(rows)
    return table if margins is None else table.merge(margins, on=MODEL_KEYS, how="left")


def crossing_table(perturbation: pd.DataFrame) -> pd.DataFrame:
    """Crossing points of consecutive widths' ``E_m(β)`` curves within each family."""
    rows = []
    for keys, family in perturbation.groupby(FAMILY_KEYS, sort=False):
        curves = {int(width): error_curve(draws) for width, draws in family.groupby("width")}
        for crossing in crossings(curves):
            rows.append({**dict(zip(FAMILY_KEYS, keys, strict=True)), **crossing})
    columns = [*FAMILY_KEYS, "width_small", "width_large", "crossing_beta", "crossing_low", "crossing_high"]
    return pd.DataFrame(rows, columns=columns)


def radius_trend(widths: np.ndarray, radii: np.ndarray) -> float:
    """The Theil–Sen trend of the stability radius (:func:`curse_of_memory.claims.trend`, decades gained
    per doubling of m), with a collapsed radius kept: ``-inf`` when a radius is 0, and 0 for a single
    width."""
    if (np.asarray(radii) <= 0).any():
        return -np.inf
    slope = trend(widths, radii)
    return 0.0 if np.isnan(slope) else slope


def teacher_table(
    stability: pd.DataFrame,
    memories: dict[str, pd.DataFrame],
    teacher_parameters: dict[str, dict],
    fit_threshold: float,
    radius_floor: float,
    radius_slope: float,
) -> pd.DataFrame:
    """Figure 3's filter: per teacher (and student family), its memory's decay fits and whether it survived.

    A teacher survives when it is *stably approximated* in the paper's sense: its widest student fits it
    (``E_m(0)/E_null ≤ fit_threshold``), every width keeps a stability radius above ``radius_floor`` (0:
    positive), and the radius does not shrink with m: its trend (:func:`radius_trend`, decades per
    doubling of m) is at least ``radius_slope``. ``memories`` maps a teacher to its Heaviside memory table
    (``t, memory``); ``teacher_parameters`` to its config parameters.
    """
    rows = []
    for keys, family in stability.groupby(FAMILY_KEYS, sort=False):
        row = dict(zip(FAMILY_KEYS, keys, strict=True))
        widest = family.loc[family["width"].idxmax()]
        relative_error = float(widest["error_at_zero"] / widest["null_error"])
        smallest_radius = float(family["stability_radius"].min())
        trend = radius_trend(family["width"].to_numpy(), family["stability_radius"].to_numpy())
        memory = memories[row["target"]]
        t, values = memory["t"].to_numpy(), memory["memory"].to_numpy()
        exponential, power = exponential_fit(t, values), power_law_fit(t, values)
        rows.append(
            {
                **row,
                **{f"teacher_{name}": value for name, value in teacher_parameters[row["target"]].items()},
                "relative_error_at_zero": relative_error,
                "smallest_stability_radius": smallest_radius,
                "radius_trend": trend,
                "survived": relative_error <= fit_threshold
                and smallest_radius > radius_floor
                and trend >= radius_slope,
                "exponential_rate": exponential.slope,
                "exponential_r_squared": exponential.r_squared,
                "power_law_power": power.slope,
                "power_law_r_squared": power.r_squared,
                "decays_exponentially": decays_exponentially(t, values),
            }
        )
    return pd.DataFrame(rows)


#: The worst-case table's columns (results/summary/worst_case.csv).
WORST_CASE_COLUMNS = [*MODEL_KEYS, "beta", "norm", "random_error", "worst_case_error", "steps"]


def worst_case_stability(
    worst_case: pd.DataFrame, margins: pd.DataFrame | None, null_errors: dict[str, float], threshold: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per norm of ``worst_case`` (rows of :data:`WORST_CASE_COLUMNS`): the stability table of the worst-case
    curves, with the random draws' radius beside it (``random_stability_radius``), and their crossings; both
    with a ``norm`` column. The curves are read as :func:`stability_table` reads draws: one draw per β."""
    stability, crossing = [], []
    for norm, rows in worst_case.groupby("norm", sort=False):
        curves = {
            kind: rows.assign(draw=0, error=rows[f"{kind}_error"])[[*MODEL_KEYS, "beta", "draw", "error"]]
            for kind in ("random", "worst_case")
        }
        table = stability_table(curves["worst_case"], margins, null_errors, threshold)
        random = stability_table(curves["random"], None, null_errors, threshold)
        table["random_stability_radius"] = random["stability_radius"].to_numpy()
        stability.append(table.assign(norm=norm))
        crossing.append(crossing_table(curves["worst_case"]).assign(norm=norm))
    return pd.concat(stability, ignore_index=True), pd.concat(crossing, ignore_index=True)
