"""Learning-rate stability (beyond the paper; the comparison of StableSSM, arXiv 2311.14495): how large a
learning rate each recurrent parameterisation still trains at.

Every parameterisation of a seed starts from the same model (the same ``U, b, P, c`` and the same
eigenvalues of ``Ŵ``, set through each form's inverse: :meth:`curse_of_memory.models.RNN.set_eigenvalues_`)
and trains at one learning rate with the sweep's settings (the main grid's protocol with the sweep's own
overrides, and no divergence retries, which would lower the rate). Divergence is data, not a failure: a
run *diverged* when a loss is not finite (training then stops cleanly,
:func:`curse_of_memory.training.train`) or its validation loss exceeds ``explosion_factor`` times its
value at initialisation. The largest stable learning rate of a model is the largest rate of the grid
below the first one at which it diverged (:mod:`curse_of_memory.learning_rate_tables`).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from curse_of_memory.loss import temporal_weights, weighted_mse
from curse_of_memory.models import RNN
from curse_of_memory.training import TrainingSettings, evaluate_loss, train


def epochs_to_level(validation_losses: list[float], level: float) -> float:
    """The first epoch (1-based) whose validation loss is at most ``level``; NaN when none is."""
    reached = [epoch for epoch, loss in enumerate(validation_losses, start=1) if loss <= level]
    return float(reached[0]) if reached else math.nan


def sweep_run(
    model: RNN,
    splits: dict[str, tuple[Tensor, Tensor]],
    settings: TrainingSettings,
    seed: int,
    explosion_factor: float,
    loss_level: float,
    resume_path: Path | None = None,
) -> dict:
    """Train ``model`` once (in place, resuming from ``resume_path`` as :func:`train` does) and return its
    row: ``diverged``, ``final_validation_loss`` (the last epoch's, ``inf`` when a loss went non-finite),
    ``epochs_to_level`` (to a validation loss of ``loss_level`` times the zero predictor's), ``epochs`` run
    and ``initial_validation_loss``."""
    validation_inputs, validation_targets = splits["validation"]
    initial = evaluate_loss(model, validation_inputs, validation_targets, settings)
    result = train(model, splits, settings, seed=seed, resume_path=resume_path)
    losses = [row["validation_loss"] for row in result.history]
    blew_up = result.metrics["stop_reason"] == "diverged"
    weights = temporal_weights(validation_targets.shape[1], settings.loss_weight_power).to(validation_targets)
    null = float(weighted_mse(torch.zeros_like(validation_targets), validation_targets, weights))
    return {
        "diverged": blew_up or any(loss > explosion_factor * initial for loss in losses),
        "final_validation_loss": math.inf if blew_up or not losses else losses[-1],
        "epochs_to_level": epochs_to_level(losses, loss_level * null),
        "epochs": len(losses),
        "initial_validation_loss": initial,
    }
