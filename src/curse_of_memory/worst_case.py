"""Worst-case perturbation error: Definition 3.4's ``sup`` over the β-ball, by projected gradient ascent.

The random draws of :mod:`curse_of_memory.perturbation` give a lower bound on ``E_m(β)``; the authors name
an optimisation-based estimate as open work. This module climbs the test error from the best random draws:
per β, the ``starts`` draws with the largest error are the starting perturbations ``δ`` (each parameter
tensor, a *block*, has ``‖δ‖ = β`` in the draws' norm), and every step moves each block along its
steepest-ascent direction in that norm and projects it back onto its ball ``‖δ‖ ≤ β``:

* ``max`` (the authors' ``‖·‖_∞`` per tensor): the direction is ``sign(∇)``, the projection clips every
  entry to ``[−β, β]`` (the ℓ∞ projected gradient ascent of adversarial training);
* ``spectral`` (Definition 3.4's block norm): the direction is the unit-norm maximiser of ``⟨∇, D⟩``,
  ``U Vᵀ`` of the gradient's SVD for a matrix and ``∇/‖∇‖₂`` for a vector, and the projection clips the
  singular values (rescales the vector) to β.

Steps have length ``step_size · β``. The ascent climbs the error on a seeded subset of the evaluation
set (``ascent_size`` sequences, all of them when None); the iterate with the largest subset error is then
evaluated on the whole set, and the worst-case error is the larger of that and the random draws' max, so
``worst_case_error ≥ random_error`` by construction. A start or iterate whose error is not finite (the
perturbed model blew up) is already the sup: it is recorded as ``inf`` and not stepped further.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from curse_of_memory.perturbation import ParameterLoss, noise_directions


def _member_view(values: Tensor, like: Tensor) -> Tensor:
    """Per-member values (E,) shaped to broadcast over stacked blocks ``like`` (E, …)."""
    return values.to(like.device).view(-1, *[1] * (like.dim() - 1))


def ascent_direction(gradient: Tensor, norm: str) -> Tensor:
    """Per member (leading dimension), the direction ``D`` of unit block norm maximising ``⟨∇, D⟩``: the
    steepest ascent in the ball's norm (0 where the gradient is 0)."""
    if norm == "max":
        return gradient.sign()
    if gradient.dim() == 3:  # a matrix per member: the polar factor U Vᵀ
        left, values, right = torch.linalg.svd(gradient, full_matrices=False)
        direction = left @ right
        return torch.where(_member_view(values[:, 0] > 0, gradient), direction, 0.0)
    size = torch.linalg.vector_norm(gradient.flatten(1), dim=1)
    return gradient / _member_view(size.clamp_min(torch.finfo(gradient.dtype).tiny), gradient)


def project(delta: Tensor, beta: Tensor, norm: str) -> Tensor:
    """``delta`` (E, …) projected per member onto the ball ``‖δ‖ ≤ β_e`` in the block norm ``norm``."""
    radius = _member_view(beta, delta)
    if norm == "max":
        return torch.maximum(torch.minimum(delta, radius), -radius)
    if delta.dim() == 3:
        left, values, right = torch.linalg.svd(delta, full_matrices=False)
        return left @ (torch.minimum(values, radius[..., 0]).unsqueeze(-1) * right)
    size = _member_view(torch.linalg.vector_norm(delta.flatten(1), dim=1), delta)
    return delta * torch.where(size > radius, radius / size.clamp_min(torch.finfo(delta.dtype).tiny), 1.0)


def _ascend(
    module: nn.Module,
    base: dict[str, Tensor],
    start: dict[str, Tensor],
    beta: Tensor,
    loss: ParameterLoss,
    steps: int,
    step_size: float,
    norm: str,
) -> dict[str, Tensor]:
    """The iterate with the largest ``loss`` (per member, start included) of ``steps`` projected ascent
    steps from ``start`` (a member whose loss or gradient is not finite stays put)."""
    delta = {name: value.clone() for name, value in start.items()}
    best, best_loss = {name: value.clone() for name, value in start.items()}, None
    for step in range(steps + 1):
        climbing = step < steps
        with torch.set_grad_enabled(climbing):
            leaves = {name: value.requires_grad_(climbing) for name, value in delta.items()}
            losses = loss(module, {name: base[name] + leaves[name] for name in base})
            gradients = (  # zero for a block the error does not depend on
                torch.autograd.grad(
                    losses.sum(), list(leaves.values()), allow_unused=True, materialize_grads=True
                )
                if climbing
                else None
            )
        losses = losses.detach()
        finite = torch.isfinite(losses)
        if gradients is not None:
            for gradient in gradients:
                finite &= torch.isfinite(gradient.flatten(1)).all(dim=1)
        losses = torch.where(torch.isfinite(losses), losses, math.inf)
        improved = losses > best_loss if best_loss is not None else torch.ones_like(finite)
        best_loss = losses if best_loss is None else torch.maximum(best_loss, losses)
        for name in delta:
            best[name] = torch.where(_member_view(improved, delta[name]), delta[name].detach(), best[name])
        if not climbing or not bool(finite.any()):
            break
        for (name, value), gradient in zip(delta.items(), gradients, strict=True):
            value = value.detach()
            moved = value + _member_view(step_size * beta, value) * ascent_direction(gradient, norm)
            delta[name] = torch.where(_member_view(finite, value), project(moved, beta, norm), value)
    return best


def worst_case_errors(
    model: nn.Module,
    random_draws: pd.DataFrame,
    evaluation_loss: ParameterLoss,
    ascent_loss: ParameterLoss,
    seed: int,
    norm: str,
    starts: int,
    steps: int,
    step_size: float,
    members_per_pass: int = 64,
    recurrent: str = "random",
) -> list[dict]:
    """Rows ``{beta, random_error, worst_case_error, steps}`` per β of ``random_draws`` (the rows ``beta,
    draw, error`` that :func:`curse_of_memory.perturbation.perturbation_errors` gave for this ``model``,
    ``seed``, ``norm`` and ``recurrent``, whose directions are drawn again here): the random draws' max
    and the worst case of projected ascent (see the module docstring) from its ``starts`` best draws at
    that β."""
    base = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    directions = noise_directions(model, int(random_draws["draw"].max()) + 1, seed, norm, recurrent)
    random_error = random_draws.groupby("beta")["error"].max()
    # the starts: per positive β with a finite random error, its best draws, largest error first
    ranked = random_draws[(random_draws["beta"] > 0) & np.isfinite(random_draws["error"])]
    ranked = ranked.sort_values(["beta", "error", "draw"], ascending=[True, False, True])
    chosen = ranked.groupby("beta", sort=True).head(starts)
    pairs = list(zip(chosen["beta"].astype(float), chosen["draw"].astype(int), strict=True))
    worst = {float(beta): float(error) for beta, error in random_error.items()}
    climbed: set[float] = set()
    for first in range(0, len(pairs), members_per_pass):
        chunk = pairs[first : first + members_per_pass]
        beta = torch.tensor([b for b, _ in chunk], dtype=torch.float64)
        start = {
            name: torch.stack([b * directions[d][name] for b, d in chunk]).to(value)
            for name, value in base.items()
        }
        best = _ascend(model, base, start, beta, ascent_loss, steps, step_size, norm)
        with torch.no_grad():
            errors = evaluation_loss(model, {name: base[name] + best[name] for name in base}).tolist()
        for (b, _), error in zip(chunk, errors, strict=True):
            worst[b] = max(worst[b], error if math.isfinite(error) else math.inf)
            climbed.add(b)
    return [
        {
            "beta": beta,
            "random_error": float(random_error[beta]),
            "worst_case_error": worst[beta],
            "steps": steps if beta in climbed else 0,
        }
        for beta in sorted(worst)
    ]
