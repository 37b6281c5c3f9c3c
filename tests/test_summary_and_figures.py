"""Summary tables and figures from synthetic perturbation data with known answers."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from curse_of_memory.figures import (
    definitions_figure,
    gradient_ratio_figure,
    memory_figure,
    nondecaying_figure,
    perturbation_figure,
    save_figure,
    stability_figure,
    study_figure,
    teacher_figure,
    worst_case_figure,
)
from curse_of_memory.stability import beta_grid
from curse_of_memory.summary import (
    MODEL_KEYS,
    crossing_table,
    null_error,
    radius_trend,
    stability_table,
    teacher_table,
)

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


def teacher_inputs():
    """Two teachers: 'fast' fitted well with a positive radius and an exponential memory; 'chaotic'
    poorly fitted with a memory that does not decay."""
    perturbation = synthetic_perturbation()
    stable = perturbation[perturbation["parameterization"] == "stable"].assign(parameterization="vanilla")
    fast = stable.assign(target="fast", study="teacher_rnn")
    chaotic = stable.assign(target="chaotic", study="teacher_rnn", error=stable["error"] + 0.5)
    stability = stability_table(pd.concat([fast, chaotic]), None, {"fast": 1.0, "chaotic": 1.0}, 1.0)
    t = np.arange(100.0)
    memories = {
        "fast": pd.DataFrame({"t": t, "memory": np.exp(-0.3 * t)}),
        "chaotic": pd.DataFrame({"t": t, "memory": 1.0 + 0.5 * np.sin(1.3 * t)}),
    }
    parameters = {"fast": {"radius": 0.5}, "chaotic": {"radius": 2.0}}
    return stability, memories, parameters, pd.concat([fast, chaotic])


def test_teacher_table_keeps_the_fitted_teachers_and_reads_their_decay():
    stability, memories, parameters, _ = teacher_inputs()
    table = teacher_table(
        stability, memories, parameters, fit_threshold=0.1, radius_floor=0.0, radius_slope=-0.15
    )
    fast, chaotic = (table.set_index("target").loc[name] for name in ("fast", "chaotic"))
    assert fast["survived"] and not chaotic["survived"]
    assert fast["relative_error_at_zero"] == pytest.approx(1e-4)  # the widest student, E_null = 1
    assert chaotic["relative_error_at_zero"] == pytest.approx(0.5001)
    assert fast["exponential_rate"] == pytest.approx(0.3) and fast["decays_exponentially"]
    assert not chaotic["decays_exponentially"]
    assert fast["teacher_radius"] == 0.5
    strict = teacher_table(
        stability, memories, parameters, fit_threshold=0.1, radius_floor=10.0, radius_slope=-0.15
    )
    assert not strict["survived"].any()  # radius_floor above every radius filters everything out
    # a radius that shrinks with m: a good fit with positive radii is still not a stable approximation
    shrinking = stability.assign(stability_radius=0.5 / stability["width"])
    shrunk = teacher_table(
        shrinking, memories, parameters, fit_threshold=0.1, radius_floor=0.0, radius_slope=-0.15
    )
    fast_shrunk = shrunk.set_index("target").loc["fast"]
    assert fast_shrunk["radius_trend"] == pytest.approx(-np.log10(2)) and not fast_shrunk["survived"]


def test_radius_trend_is_decades_per_doubling():
    assert radius_trend(np.array([8, 16, 32]), np.array([1.0, 0.1, 0.01])) == pytest.approx(-1.0)
    assert radius_trend(np.array([8, 16]), np.array([0.3, 0.3])) == pytest.approx(0.0)
    assert radius_trend(np.array([8, 16]), np.array([0.3, 0.0])) == -np.inf


def test_study_teacher_and_memory_study_figures_render(tmp_path):
    stability, memories, parameters, perturbation = teacher_inputs()
    teachers = teacher_table(
        stability, memories, parameters, fit_threshold=0.1, radius_floor=0.0, radius_slope=-0.15
    )
    memory = pd.concat(frame.assign(target=name) for name, frame in memories.items())
    example = {"target": "fast", "activation": "tanh", "parameterization": "vanilla", "seed": 0}
    chosen = perturbation[perturbation["target"] == "fast"]
    save_figure(
        teacher_figure(teachers, memory, chosen, crossing_table(chosen), example, "t"), [tmp_path / "3.png"]
    )
    target_memory = pd.concat(
        [memories["fast"].assign(input="heaviside"), memories["fast"].assign(input="impulse")]
    )
    panels = [{"target": "fast", "activation": "tanh", "parameterization": "vanilla"}]
    figure = study_figure(target_memory, chosen, crossing_table(chosen), panels, "t")
    save_figure(figure, [tmp_path / "2.png"])
    t = np.arange(30.0)
    curves = pd.concat(
        pd.DataFrame(
            {"family": f, "layers": 1, "seed": s, "input": i, "t": t, "memory": np.exp(-t / (2 + s))}
        )
        for f in ("rnn", "s4d")
        for s in range(3)
        for i in ("heaviside", "impulse")
    )
    agreement = (
        curves[["family", "layers", "seed"]]
        .drop_duplicates()
        .assign(relative_l1_difference=0.0, log_correlation=1.0)
    )
    save_figure(definitions_figure(curves, agreement), [tmp_path / "10.png"])
    nondecaying = pd.concat(
        pd.DataFrame(
            {"model": name, "t": t, "memory": memory, "response": np.cos(np.pi * t), "decays": decays}
        )
        for name, memory, decays in [("paper 2-D", np.ones(30), False), ("random", np.exp(-t), True)]
    )
    save_figure(nondecaying_figure(np.array([[1.0, 1.0], [-4.0, -3.0]]), nondecaying), [tmp_path / "11.png"])
    for name in ("2", "3", "10", "11"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000, name


def test_gradient_ratio_figure_draws_every_study_and_leaves_out_infinite_ratios(tmp_path):
    """Frozen modes (margins of ±1e-16, ratios NaN) and held ones (ratio ∞) beside ordinary ones."""
    rows = [
        {"study": study, "target": "t", "activation": "tanh", "parameterization": p, "width": 8, "seed": 0,
         "epoch": epoch, "gradient_over_weight": ratio, "gradient_over_weight_median": ratio,
         "stability_margin": margin}
        for study, p, ratio, margin in [
            ("trained", "softplus", 5.0, 0.05), ("trained", "vanilla", np.inf, 0.0),
            ("teacher_rnn", "vanilla", 30.0, -1e-16), ("classification", "direct", np.nan, -0.2),
        ]
        for epoch in range(3)
    ]  # fmt: skip
    figure = gradient_ratio_figure(pd.DataFrame(rows))
    assert [ax.get_title() for ax in figure.axes[:3]] == [
        f"study: {s}" for s in ("trained", "teacher_rnn", "classification")
    ]
    assert figure.axes[4].get_xlim()[0] <= -1e-3 and figure.axes[4].get_xlim()[1] >= 1.0
    save_figure(figure, [tmp_path / "ratio.png"])
    assert (tmp_path / "ratio.png").stat().st_size > 10_000


def test_worst_case_figure_overlays_both_curves_per_width_and_compares_the_radii(tmp_path):
    """Two targets x two parameterisations of one activation (a second activation and norm left out), two
    widths and two seeds; an infinite worst case sits on the infinity line."""
    rows = []
    for target, parameterization, activation, norm, width, seed in itertools.product(
        ["exp", "pol"], ["vanilla", "softplus"], ["tanh", "relu"], ["max", "spectral"], [8, 16], [0, 1]
    ):
        for beta in BETAS:
            random_error = 1.0 / width + beta**2
            worst = np.inf if beta == BETAS[-1] and target == "pol" else random_error * (1 + 10 * beta)
            rows.append({"study": "trained", "target": target, "activation": activation, "parameterization":
                         parameterization, "width": width, "seed": seed, "beta": beta, "norm": norm,
                         "random_error": random_error, "worst_case_error": worst, "steps": 3})  # fmt: skip
    worst_case = pd.DataFrame(rows)
    radii = worst_case.drop_duplicates(MODEL_KEYS + ["norm"])[[*MODEL_KEYS, "norm"]]
    radii = radii.assign(
        random_stability_radius=0.1, stability_radius=np.where(radii["width"] == 8, 0.02, 0.0)
    )
    figure = worst_case_figure(worst_case, radii, "tanh", "max")
    panels = np.array(figure.axes).reshape(2, 3)
    assert panels[1, 1].get_title() == "softplus, pol target"
    curves = [line for line in panels[1, 1].get_lines() if len(line.get_xdata()) == len(BETAS)]
    assert len(curves) == 2 * 2 and sum(line.get_linestyle() == "--" for line in curves) == 2  # per width
    worst_line = next(line for line in curves if line.get_linestyle() == "--")
    assert worst_line.get_ydata()[-1] == panels[1, 1].get_lines()[-1].get_ydata()[0]  # inf: on the line
    assert panels[0, 2].get_title() == "exp: 8 of 16 models with a zero radius"  # both activations, one norm
    save_figure(figure, [tmp_path / "worst.png"])
    assert (tmp_path / "worst.png").stat().st_size > 10_000
