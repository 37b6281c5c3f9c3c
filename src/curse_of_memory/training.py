"""Training one RNN on one target with the authors' protocol (PAPER.md §4), all of it configurable.

Loss: the temporally weighted MSE ``mean_k,n (w_k (ŷ_{n,k} − y_{n,k}))²`` with
``w_k ∝ ((k+1)/(T+1))^p`` normalised to ``Σ_k w_k = T`` (weights applied to prediction and target),
plus the stability penalty ``coefficient · relu(threshold − margin)`` where margin is the smallest
eigenvalue of ``Ŵ``. Optimiser AdamW (or Adam), ReduceLROnPlateau on the validation loss, gradient
norm clipping, the projection of constrained parameters after every step, the checkpoint at the
best validation loss. Stopping: ``max_epochs``, a patience on
the validation loss, and optionally the authors' chained criterion (stop once the validation loss
is below ``stop_below``, half the previous width's best validation loss).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from curse_of_memory.models import RNN

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingSettings:
    """Every knob of one training run (config section ``training``)."""

    optimizer: str = "adamw"
    learning_rate: float = 0.01
    weight_decay: float = 0.0
    batch_size: int = 512
    max_epochs: int = 1000
    gradient_clip: float | None = 0.5
    scheduler_factor: float = 0.1
    scheduler_patience: int = 10
    early_stopping_patience: int | None = None
    loss_weight_power: float = 2.0
    margin_penalty_coefficient: float = 0.01
    margin_penalty_threshold: float = 1.0
    evaluation_batch_size: int = 4096
    stop_below: float | None = None


def temporal_weights(length: int, power: float, dtype: torch.dtype = torch.float64) -> Tensor:
    """``w_k = ((k+1)/(T+1))^power`` for k = 0..T−1, normalised so that ``Σ w_k = T``."""
    weights = ((torch.arange(length, dtype=dtype) + 1) / (length + 1)) ** power
    return weights * (length / weights.sum())


def weighted_mse(predictions: Tensor, targets: Tensor, weights: Tensor) -> Tensor:
    """Temporally weighted MSE of (batch, time, 1) tensors: ``mean((w_k (ŷ − y))²)``."""
    return ((weights[:, None] * (predictions - targets)) ** 2).mean()


def margin_penalty(model: RNN, settings: TrainingSettings) -> Tensor:
    """``coefficient · relu(threshold − margin)``: pushes the slowest mode away from instability."""
    if settings.margin_penalty_coefficient == 0:
        return torch.zeros((), dtype=torch.float64)
    gap = settings.margin_penalty_threshold - model.stability_margin()
    return settings.margin_penalty_coefficient * torch.relu(gap)


@torch.no_grad()
def evaluate_loss(model: RNN, inputs: Tensor, targets: Tensor, settings: TrainingSettings) -> float:
    """The weighted MSE over a whole split, in batches of ``evaluation_batch_size``."""
    weights = temporal_weights(inputs.shape[1], settings.loss_weight_power).to(inputs.device)
    total = 0.0
    for start in range(0, inputs.shape[0], settings.evaluation_batch_size):
        stop = start + settings.evaluation_batch_size
        loss = weighted_mse(model(inputs[start:stop]), targets[start:stop], weights)
        total += float(loss) * (min(stop, inputs.shape[0]) - start)
    return total / inputs.shape[0]


@dataclass
class TrainingResult:
    """The best-validation weights, the per-epoch history and the run's summary metrics."""

    best_state: dict[str, Tensor]
    history: list[dict]
    metrics: dict


def make_optimizer(model: RNN, settings: TrainingSettings) -> torch.optim.Optimizer:
    """AdamW or Adam over all parameters."""
    optimizers = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}
    return optimizers[settings.optimizer](
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )


def train(
    model: RNN,
    splits: dict[str, tuple[Tensor, Tensor]],
    settings: TrainingSettings,
    seed: int,
) -> TrainingResult:
    """Train ``model`` in place on ``splits['train']``, selecting on ``splits['validation']``.

    Mini-batches are shuffled by a generator seeded with ``seed``. A non-finite training loss stops
    the run (``stop_reason = 'diverged'``) and the best finite checkpoint is kept.
    """
    train_inputs, train_targets = splits["train"]
    validation_inputs, validation_targets = splits["validation"]
    weights = temporal_weights(train_inputs.shape[1], settings.loss_weight_power).to(train_inputs.device)
    optimizer = make_optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=settings.scheduler_factor, patience=settings.scheduler_patience
    )
    generator = torch.Generator().manual_seed(seed)
    best_loss, best_epoch, best_state = math.inf, 0, copy.deepcopy(model.state_dict())
    history: list[dict] = []
    stop_reason = "max_epochs"
    started = time.perf_counter()
    for epoch in range(1, settings.max_epochs + 1):
        epoch_started = time.perf_counter()
        order = torch.randperm(train_inputs.shape[0], generator=generator).to(train_inputs.device)
        running, count, diverged = 0.0, 0, False
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = weighted_mse(model(train_inputs[batch]), train_targets[batch], weights)
            if not torch.isfinite(loss):
                diverged = True
                break
            (loss + margin_penalty(model, settings)).backward()
            if settings.gradient_clip:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.gradient_clip)
            optimizer.step()
            model.project_()
            running += loss.item() * len(batch)
            count += len(batch)
        validation_loss = (
            math.nan if diverged else evaluate_loss(model, validation_inputs, validation_targets, settings)
        )
        if diverged or not math.isfinite(validation_loss):
            stop_reason = "diverged"
            LOGGER.error("epoch %d: loss is not finite; stopping, keeping epoch %d", epoch, best_epoch)
            break
        train_loss = running / count
        scheduler.step(validation_loss)
        if validation_loss < best_loss:
            best_loss, best_epoch = validation_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "validation_loss": validation_loss,
            "best_validation_loss": best_loss,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "stability_margin": model.stability_margin().item(),
            "seconds": time.perf_counter() - epoch_started,
        }
        history.append(row)
        LOGGER.info(
            "epoch %4d  train %.4e  validation %.4e  best %.4e  lr %.1e  margin %+.4f  %.2fs",
            epoch,
            train_loss,
            validation_loss,
            best_loss,
            row["learning_rate"],
            row["stability_margin"],
            row["seconds"],
        )
        if settings.stop_below is not None and best_loss < settings.stop_below:
            stop_reason = "beat_previous_width"
            break
        patience = settings.early_stopping_patience
        if patience is not None and epoch - best_epoch >= patience:
            stop_reason = "early_stopping"
            break
    metrics = {
        "best_epoch": best_epoch,
        "best_validation_loss": best_loss,
        "epochs": len(history),
        "stop_reason": stop_reason,
        "training_seconds": time.perf_counter() - started,
    }
    return TrainingResult(best_state=best_state, history=history, metrics=metrics)
