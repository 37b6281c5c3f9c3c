"""Worst-case perturbation error: the projections and ascent directions in closed form, the ascent reaching
the sup of a linear loss exactly, never falling below the random draws, and the radii read off it."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from curse_of_memory.design import MODEL_KEYS
from curse_of_memory.loss import temporal_weights
from curse_of_memory.models import RNN
from curse_of_memory.perturbation import block_norm, fixed_set_loss, perturbation_errors
from curse_of_memory.stability import beta_grid
from curse_of_memory.summary import stability_table, worst_case_stability
from curse_of_memory.worst_case import ascent_direction, project, worst_case_errors

GENERATOR = torch.Generator().manual_seed(0)


def random(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64, generator=GENERATOR)


def each_member_norm(stacked: torch.Tensor, norm: str) -> list[float]:
    return [float(block_norm(member, norm)) for member in stacked]


@pytest.mark.parametrize("norm", ["max", "spectral"])
@pytest.mark.parametrize("shape", [(5,), (4, 4), (1,)])
def test_projection_lands_on_the_ball_and_keeps_what_is_inside(norm, shape):
    beta = torch.tensor([0.1, 0.5, 3.0], dtype=torch.float64)
    delta = random(3, *shape)
    projected = project(delta, beta, norm)
    sizes = each_member_norm(delta, norm)
    for size, radius, after in zip(sizes, beta.tolist(), each_member_norm(projected, norm), strict=True):
        assert after == pytest.approx(min(size, radius), rel=1e-12)
    assert torch.allclose(project(projected, beta, norm), projected, rtol=0, atol=1e-14)  # idempotent
    inside = project(delta, torch.full((3,), 1e6, dtype=torch.float64), norm)
    assert torch.allclose(inside, delta, rtol=0, atol=1e-14)


def test_projections_are_the_closest_points_in_closed_form():
    delta = random(2, 4, 4)
    beta = torch.tensor([0.2, 0.7], dtype=torch.float64)
    assert torch.equal(
        project(delta, beta, "max"),
        delta.clamp(-0.2, 0.2).where(torch.arange(2)[:, None, None] == 0, delta.clamp(-0.7, 0.7)),
    )
    left, values, right = torch.linalg.svd(delta)
    clipped = left @ torch.diag_embed(torch.minimum(values, beta[:, None])) @ right
    assert torch.allclose(project(delta, beta, "spectral"), clipped, atol=1e-13)
    vector = random(2, 6)
    expected = vector * torch.clamp(beta / torch.linalg.vector_norm(vector, dim=1), max=1.0)[:, None]
    assert torch.allclose(project(vector, beta, "spectral"), expected, atol=1e-14)


@pytest.mark.parametrize("shape", [(7,), (5, 5), (3, 6)])
def test_ascent_direction_has_unit_norm_and_attains_the_dual_norm(shape):
    """The steepest ascent of a linear function on the unit ball: <g, D> is the dual norm of g (l1 for
    the max norm, the nuclear norm for the spectral norm of a matrix, the 2-norm for a vector)."""
    gradient = random(2, *shape)
    for norm, dual in [
        ("max", lambda g: g.abs().sum()),
        (
            "spectral",
            lambda g: torch.linalg.svdvals(g).sum() if g.dim() == 2 else torch.linalg.vector_norm(g),
        ),
    ]:
        direction = ascent_direction(gradient, norm)
        for member_gradient, member in zip(gradient, direction, strict=True):
            assert float(block_norm(member, norm)) == pytest.approx(1.0, rel=1e-12)
            assert float((member_gradient * member).sum()) == pytest.approx(
                float(dual(member_gradient)), rel=1e-12
            )
    zero = torch.zeros(2, *shape, dtype=torch.float64)
    for norm in ("max", "spectral"):
        assert torch.equal(ascent_direction(zero, norm), zero)  # no gradient, no step


class Linear(nn.Module):
    """Parameters whose error is linear in them: its sup over a ball is known in closed form."""

    def __init__(self) -> None:
        super().__init__()
        self.vector = nn.Parameter(random(6))
        self.matrix = nn.Parameter(random(4, 4))


SLOPES = {"vector": random(6), "matrix": random(4, 4)}


def linear_loss(_module: nn.Module, parameters: dict[str, torch.Tensor]) -> torch.Tensor:
    """``<a, vector> + <A, matrix>`` per stacked member (plus a constant that keeps it positive)."""
    return 100.0 + sum((SLOPES[name] * value).flatten(1).sum(dim=1) for name, value in parameters.items())


def linear_sup(model: Linear, beta: float, norm: str) -> float:
    """The sup of :func:`linear_loss` over the ball: the value at the centre plus β times each block's
    dual norm of its slope."""
    centre = float(linear_loss(model, {n: p.detach()[None] for n, p in model.named_parameters()})[0])
    if norm == "max":
        return centre + beta * sum(float(a.abs().sum()) for a in SLOPES.values())
    duals = float(torch.linalg.vector_norm(SLOPES["vector"])) + float(
        torch.linalg.svdvals(SLOPES["matrix"]).sum()
    )
    return centre + beta * duals


@pytest.mark.parametrize("norm", ["max", "spectral"])
def test_the_ascent_reaches_the_sup_of_a_linear_error(norm):
    model, betas = Linear(), beta_grid(0.01, 2.0, 4)
    draws = pd.DataFrame(perturbation_errors(model, linear_loss, betas, draws=3, seed=1, norm=norm))
    steps = 4 if norm == "max" else 60  # sign steps of half a radius saturate every entry in 4
    rows = worst_case_errors(
        model, draws, linear_loss, linear_loss, 1, norm, starts=2, steps=steps, step_size=0.5
    )
    assert [row["beta"] for row in rows] == betas.tolist()
    assert rows[0]["worst_case_error"] == rows[0]["random_error"] and rows[0]["steps"] == 0
    for row in rows[1:]:
        sup = linear_sup(model, row["beta"], norm)
        assert row["random_error"] < sup - 1e-6 * row["beta"]  # random draws fall short of the sup ...
        assert row["worst_case_error"] == pytest.approx(sup, rel=1e-9)  # ... the ascent reaches it
        assert row["worst_case_error"] <= sup * (1 + 1e-12)  # and stays in the ball
        assert row["steps"] == steps


@pytest.mark.parametrize("recurrent", ["random", "shift"])
def test_without_steps_the_worst_case_is_the_random_draws_max_and_a_flat_error_gains_nothing(recurrent):
    """Unclimbed, every start is evaluated again: equal to the draws' max only if the directions are drawn
    again as the draws were (the shift of the recurrent weight included)."""
    model = RNN(6, "tanh", "softplus", seed=3)
    inputs = random(16, 30, 1)
    targets = random(16, 30, 1)
    loss = fixed_set_loss(inputs, targets, temporal_weights(30, 2.0))
    betas = beta_grid(0.01, 3.0, 4)
    draws = pd.DataFrame(perturbation_errors(model, loss, betas, draws=3, seed=0, recurrent=recurrent))
    unclimbed = worst_case_errors(
        model, draws, loss, loss, 0, "max", starts=3, steps=0, step_size=0.5, recurrent=recurrent
    )
    for row in unclimbed:
        assert row["worst_case_error"] == pytest.approx(row["random_error"], rel=1e-12)

    def flat(_module, parameters):  # a negative control: an error no perturbation changes (zero gradient)
        return 1.0 + 0.0 * sum(value.flatten(1).sum(dim=1) for value in parameters.values())

    flat_draws = draws.assign(error=1.0)
    rows = worst_case_errors(model, flat_draws, flat, flat, 0, "max", starts=1, steps=3, step_size=0.5)
    assert all(row["worst_case_error"] == 1.0 for row in rows)


@pytest.mark.parametrize("norm", ["max", "spectral"])
def test_the_ascent_never_ends_below_the_random_draws_of_an_rnn(norm):
    model = RNN(5, "tanh", "vanilla", seed=1)
    inputs, targets = random(24, 30, 1), random(24, 30, 1)
    weights = temporal_weights(30, 2.0)
    full, subset = fixed_set_loss(inputs, targets, weights), fixed_set_loss(inputs[:8], targets[:8], weights)
    draws = pd.DataFrame(
        perturbation_errors(model, full, beta_grid(0.01, 4.0, 4), draws=4, seed=2, norm=norm)
    )
    rows = worst_case_errors(
        model, draws, full, subset, 2, norm, starts=2, steps=3, step_size=0.5, members_per_pass=3
    )
    gains = [row["worst_case_error"] / row["random_error"] for row in rows]
    assert all(gain >= 1 for gain in gains) and max(gains) > 1.01
    assert all(math.isfinite(row["worst_case_error"]) or row["worst_case_error"] == math.inf for row in rows)


def test_a_blown_up_start_is_the_sup_and_stays_infinite():
    model = Linear()
    betas = np.array([0.0, 0.1, 0.2])

    def explodes(_module, parameters):  # infinite once the vector's first entry moves up by 0.15
        moved = parameters["vector"][:, 0] - model.vector.detach()[0]
        return torch.where(moved > 0.15, math.inf, 1.0 + moved)

    draws = pd.DataFrame(perturbation_errors(model, explodes, betas, draws=2, seed=0))
    rows = worst_case_errors(model, draws, explodes, explodes, 0, "max", starts=1, steps=2, step_size=1.0)
    assert rows[1]["worst_case_error"] == pytest.approx(1.1)  # the sup inside the 0.1-ball
    assert rows[2]["worst_case_error"] == math.inf  # the 0.2-ball reaches the blow-up


def test_radii_from_the_worst_case_never_exceed_the_random_ones_and_match_the_stability_table():
    betas = beta_grid(0.01, 2.0, 6)
    rows = []
    for width, (scale, gain) in {4: (1.0, 3.0), 8: (0.5, 10.0)}.items():
        for beta in betas:
            random_error = scale * (1 + (beta / 0.05) ** 2)
            rows.append(
                {
                    "width": width,
                    "beta": beta,
                    "random_error": random_error,
                    "worst_case_error": random_error * (1 + gain * beta),
                }
            )
    keys = {
        "study": "trained",
        "target": "pol",
        "activation": "tanh",
        "parameterization": "softplus",
        "seed": 0,
    }
    table = pd.DataFrame(rows).assign(**keys, norm="max", steps=3)
    stability, crossings = worst_case_stability(table, None, {"pol": 2.0}, 1.0)
    draws = table.assign(draw=0, error=table["random_error"])[[*MODEL_KEYS, "beta", "draw", "error"]]
    reference = stability_table(draws, None, {"pol": 2.0}, 1.0)
    assert np.allclose(stability["random_stability_radius"], reference["stability_radius"])
    assert (stability["stability_radius"] < stability["random_stability_radius"]).all()
    assert list(stability["norm"]) == ["max", "max"] and list(crossings["norm"]) == ["max"]
