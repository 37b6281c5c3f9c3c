"""Summary tables and figures from synthetic perturbation data with known answers."""

import math

import numpy as np
import pandas as pd
import pytest

from curse_of_memory.figures import (
    memory_figure,
    perturbation_figure,
    save_figure,
    stability_figure,
)
from curse_of_memory.perturbation import beta_grid
from curse_of_memory.summary import MODEL_KEYS, crossing_table, null_error, stability_table

BETAS = beta_grid(1e-3, 2.0, 10)


def synthetic_perturbation() -> pd.DataFrame:
    """Two families on one target: 'stable' curves share a knee; 'unstable' knees shrink with m."""
    rows = []
    for parameterization, knees in [("stable", [0.3, 0.3, 0.3]), ("unstable", [0.1, 0.02, 0.004])]:
        for width, floor, knee in zip([8, 16, 32], [1e-2, 1e-3, 1e-4], knees, strict=True):
            for beta in BETAS:
                for draw in range(1 if beta == 0 else 2):
                    error = floor + (beta / knee) ** 2 * (1 + 0.1 * draw)
                    if parameterization == "unstable" and beta > 20 * knee:
                        error = math.inf
                    rows.append(
                        dict(
                            study="trained",
                            target="pol",
                            activation="tanh",
                            parameterization=parameterization,
                            width=width,
                            seed=0,
                            beta=beta,
                            draw=draw,
                            error=error,
                        )
                    )
    return pd.DataFrame(rows)


def test_null_error_is_the_weighted_mean_square():
    outputs = np.array([[1.0, 2.0], [3.0, -1.0]])
    weights = np.array([0.5, 1.5])
    assert null_error(outputs, weights) == pytest.approx(np.mean([0.25, 9.0, 2.25, 2.25]))


def test_stability_table_and_crossings_tell_stable_from_unstable():
    perturbation = synthetic_perturbation()
    margins = perturbation[MODEL_KEYS].drop_duplicates().assign(stability_margin=0.5)
    table = stability_table(perturbation, margins, {"pol": 1.0}, threshold=1.0)
    assert len(table) == 6 and set(table.columns) >= {
        *MODEL_KEYS,
        "error_at_zero",
        "stability_radius",
        "stability_margin",
    }
    stable = table[table["parameterization"] == "stable"].sort_values("width")
    unstable = table[table["parameterization"] == "unstable"].sort_values("width")
    assert np.all(np.diff(unstable["stability_radius"]) < 0)
    assert np.ptp(stable["stability_radius"]) < 0.1 * stable["stability_radius"].mean()
    np.testing.assert_allclose(stable["error_at_zero"], [1e-2, 1e-3, 1e-4])
    crossings = crossing_table(perturbation)
    moving = crossings[crossings["parameterization"] == "unstable"]["crossing_beta"].to_numpy()
    assert moving[1] < moving[0]


def test_figures_render_with_infinite_errors(tmp_path):
    perturbation = synthetic_perturbation()
    crossings = crossing_table(perturbation)
    panels = [{"target": "pol", "activation": "tanh", "parameterization": p} for p in ("stable", "unstable")]
    figure = perturbation_figure(perturbation, crossings, panels, columns=2, title="test")
    save_figure(figure, [tmp_path / "p.png", tmp_path / "p.pdf"])
    assert (tmp_path / "p.png").stat().st_size > 10_000 and (tmp_path / "p.pdf").stat().st_size > 5_000

    margins = perturbation[MODEL_KEYS].drop_duplicates().assign(stability_margin=0.5)
    save_figure(
        stability_figure(stability_table(perturbation, margins, {"pol": 1.0}, 1.0)),
        [tmp_path / "s.png"],
    )
    t = np.arange(20.0)
    memory = pd.concat(
        [
            pd.DataFrame(
                {
                    "subject": "pol",
                    "kind": "target",
                    "input": "heaviside",
                    "t": t,
                    "memory": (1 + t) ** -1.1,
                    "target": "pol",
                }
            ),
            pd.DataFrame(
                {
                    "subject": "m",
                    "kind": "model",
                    "input": "heaviside",
                    "t": t,
                    "memory": np.exp(-t / 3),
                    "target": "pol",
                    "activation": "tanh",
                    "parameterization": "softplus",
                    "width": 8,
                    "seed": 0,
                }
            ),
        ]
    )
    save_figure(memory_figure(memory, width=8), [tmp_path / "m.png"])
    assert (tmp_path / "s.png").stat().st_size > 10_000 and (tmp_path / "m.png").stat().st_size > 10_000
