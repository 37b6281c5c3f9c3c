"""The training and evaluation loss: the temporally weighted MSE ``mean_k,n (w_k (ŷ_{n,k} − y_{n,k}))²``
with ``w_k ∝ ((k+1)/(T+1))^p`` normalised to ``Σ_k w_k = T`` (weights applied to prediction and target),
the authors' loss; training, perturbation errors and the zero predictor's error all use it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from curse_of_memory import temporal_weighting


def temporal_weights(length: int, power: float, dtype: torch.dtype = torch.float64) -> Tensor:
    """``w_k = ((k+1)/(T+1))^power`` for k = 0..T−1, normalised so that ``Σ w_k = T``
    (:func:`curse_of_memory.temporal_weighting.temporal_weights` as a tensor)."""
    return torch.from_numpy(temporal_weighting.temporal_weights(length, power)).to(dtype)


def weighted_mse(predictions: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
    """Temporally weighted MSE of (batch, time, 1) tensors: ``mean((w_k (ŷ − y))²)``; predictions of
    an ensemble (E, batch, time, 1) give one value per member. Without a gradient to keep (evaluation,
    perturbation errors) the squares are summed against ``w²`` member by member, in one product: one
    temporary the size of a member's outputs, which stays in cache."""
    squared_weights = weights * weights
    if torch.is_grad_enabled() and predictions.requires_grad:
        return _WeightedSquaredError.apply(predictions, targets, squared_weights)
    count = math.prod(predictions.shape[-3:])
    members = predictions.reshape(-1, *predictions.shape[-3:]).unbind(0)
    losses = [((member - targets).square_()[..., 0] @ squared_weights).sum() / count for member in members]
    return torch.stack(losses).reshape(predictions.shape[:-3])


def weighted_mse_and_gradient(
    predictions: Tensor, targets: Tensor, squared_weights: Tensor
) -> tuple[Tensor, Tensor]:
    """:func:`weighted_mse` (from the squared weights ``w_k²``) and its gradient ``2 w_k² (ŷ − y) / n`` with
    respect to the predictions."""
    count = math.prod(predictions.shape[-3:])
    difference = predictions - targets
    weighted = difference * squared_weights[:, None]
    losses = torch.linalg.vecdot(difference.flatten(-3), weighted.flatten(-3)) / count
    return losses, weighted * (2 / count)


class _WeightedSquaredError(torch.autograd.Function):
    """``mean(w_k² (ŷ − y)²)`` with its gradient computed in the forward pass
    (:func:`weighted_mse_and_gradient`) and handed back as it is when the loss is the end of the graph
    (∂/∂loss = 1): no op in the backward."""

    @staticmethod
    def forward(ctx, predictions: Tensor, targets: Tensor, squared_weights: Tensor) -> Tensor:
        losses, gradient = weighted_mse_and_gradient(predictions, targets, squared_weights)
        ctx.save_for_backward(gradient)
        return losses

    @staticmethod
    def backward(ctx, grad_loss: Tensor) -> tuple[Tensor, None, None]:
        (gradient,) = ctx.saved_tensors
        if grad_loss.numel() == 1 and grad_loss.item() == 1.0:
            return gradient, None, None
        return gradient * grad_loss[..., None, None, None], None, None
