"""Perturbation error ``E_m(β) = sup_{|θ̃ − θ_m| ≤ β} ‖H − Ĥ(·; θ̃)‖`` (Definition 3.4), estimated.

The authors' protocol (docs/paper.md): every parameter tensor ``p`` of the model receives its own
noise ``β · n/‖n‖_∞`` with ``n ~ N(0, I)``, so each tensor moves by exactly β in the max norm (with
``perturbation.norm: spectral``, by β in Definition 3.4's block norm, the spectral norm, instead); the
error of the perturbed model is its test loss (the training loss's weighted MSE). The sup is
estimated by the max over ``draws`` random directions; draw ``d`` uses the same direction at every β
(the authors reseed per draw), so each draw traces the error along one ray in weight space.
β = 0 is evaluated once. Pairs are evaluated in increasing β, and once a β's error is infinite for some
draw, the larger β are not evaluated: ``E_m(β)`` is a running max over β (:func:`curse_of_memory.stability.
error_curve`), infinite there whatever they give, so they are recorded as ``inf`` with ``evaluated``
false, and every curve, radius and crossing is the same as with every pair evaluated. Perturbations act
on the raw parameters: the pre-map ``w`` for the
reparameterised forms, and for diagonal/vanilla ``w`` itself (no projection at evaluation, so
eigenvalues can cross zero).

**The recurrent weight** (``recurrent``). ``shift``, what the code that drew the paper's Figures 7 and 8
did: the raw recurrent vector ``w`` moves along ``−1``, the same in every draw, normalised like every
block: at max norm β (the authors') by exactly ``−β`` on every mode, so every mode moves toward
instability by β: ``g(w) − β`` for the relu baselines, perturbed as ``g(w) = w``, and ``g(w − β)`` for a
reparameterised form (``softplus(w − β)`` stays positive); at spectral norm (the vector's 2-norm) by
``−β/√m``. ``random``: the same noise as every other tensor. Either way the other tensors' noise is the
same, drawn in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call

from curse_of_memory.loss import weighted_mse

ParameterLoss = Callable[[nn.Module, dict[str, Tensor]], Tensor]


def block_norm(tensor: Tensor, norm: str) -> Tensor:
    """``max``: the largest absolute entry (the authors' ``‖n‖_∞``); ``spectral``: Definition 3.4's block
    norm, the largest singular value of a matrix and the 2-norm of a vector or scalar."""
    if norm == "max":
        return tensor.abs().max()
    if tensor.dim() == 2:
        return torch.linalg.matrix_norm(tensor, ord=2)
    return torch.linalg.vector_norm(tensor)


#: The raw recurrent parameter ``w`` of :class:`curse_of_memory.models.RNN`, which ``recurrent`` acts on.
RECURRENT = "recurrent_raw"

#: How the recurrent weight is perturbed (see the module docstring).
RECURRENT_PERTURBATIONS = ("shift", "random")


def noise_directions(
    model: nn.Module, draws: int, seed: int, norm: str = "max", recurrent: str = "random"
) -> list[dict[str, Tensor]]:
    """Per draw, per parameter tensor: ``n/‖n‖`` with ``n ~ N(0, I)`` from a seeded generator, ``‖·‖``
    the :func:`block_norm` ``norm`` (so each tensor moves by exactly β in that norm); with ``recurrent =
    "shift"``, ``−1`` normalised the same way on :data:`RECURRENT` instead (its noise still drawn, so the
    other tensors' noise is the same under both)."""
    if recurrent not in RECURRENT_PERTURBATIONS:
        raise ValueError(f"unknown recurrent perturbation {recurrent!r}; allowed: {RECURRENT_PERTURBATIONS}")
    directions = []
    for draw in range(draws):
        generator = torch.Generator().manual_seed(seed * 1_000_003 + draw)
        direction = {}
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            if recurrent == "shift" and name == RECURRENT:
                shift = -torch.ones_like(noise)
                direction[name] = (shift / block_norm(shift, norm)).to(parameter.device)
            else:
                direction[name] = (noise / block_norm(noise, norm)).to(parameter.device)
        directions.append(direction)
    return directions


@torch.no_grad()
def perturbation_errors(
    model: nn.Module,
    loss: ParameterLoss,
    betas: np.ndarray,
    draws: int,
    seed: int,
    members_per_forward: int = 64,
    norm: str = "max",
    recurrent: str = "random",
) -> list[dict]:
    """Rows ``{beta, draw, error, evaluated}`` for every β (increasing) and draw; a non-finite error is
    recorded as ``inf``, and so is every pair beyond the first β with an infinite error (``evaluated``
    false: the running max ``E_m(β)`` is infinite there whatever it gives; module docstring).

    The perturbed models are evaluated as ensembles: up to ``members_per_forward`` (β, draw) pairs
    stacked along a leading dimension of every parameter, one forward pass each (the model must
    accept stacked parameters, as :class:`curse_of_memory.models.RNN` does), on the model's device.
    ``loss(module, parameters)`` returns one error per member (e.g. :func:`fixed_set_loss`); ``norm`` and
    ``recurrent`` make the directions (:func:`noise_directions`).
    """
    base = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    directions = noise_directions(model, draws, seed, norm, recurrent)
    by_draw = {name: torch.stack([direction[name] for direction in directions]) for name in base}
    pairs = [(float(beta), draw) for beta in np.sort(betas) for draw in range(1 if beta == 0 else draws)]
    rows: list[dict] = []
    for start in range(0, len(pairs), members_per_forward):
        chunk = pairs[start : start + members_per_forward]
        if any(math.isinf(row["error"]) for row in rows):  # E_m(β) is infinite from an earlier β on
            rows += [{"beta": b, "draw": d, "error": math.inf, "evaluated": False} for b, d in chunk]
            continue
        scales = torch.tensor([beta for beta, _ in chunk], dtype=torch.float64)
        chosen = torch.tensor([draw for _, draw in chunk], device=next(iter(base.values())).device)
        stacked = {  # base + β · direction per member, as two elementwise ops over the whole chunk
            name: base[name] + scales.to(value).view(-1, *[1] * base[name].dim()) * value[chosen]
            for name, value in by_draw.items()
        }
        errors = loss(model, stacked).tolist()
        for (beta, draw), error in zip(chunk, errors, strict=True):
            finite = error if math.isfinite(error) else math.inf
            rows.append({"beta": beta, "draw": draw, "error": finite, "evaluated": True})
    return rows


def fixed_set_loss(inputs: Tensor, targets: Tensor, weights: Tensor) -> ParameterLoss:
    """A ``loss(module, parameters)`` for :func:`perturbation_errors`: the weighted MSE on a fixed set,
    one value per stacked parameter set."""

    def loss(module: nn.Module, parameters: dict[str, Tensor]) -> Tensor:
        return weighted_mse(functional_call(module, parameters, (inputs,)), targets, weights)

    return loss
