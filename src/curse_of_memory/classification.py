"""Sequential image classification (the paper's Appendix E, Figure 9 and Table 1): the project's RNN read
out on its last hidden state, trained by cross-entropy with every recurrent parameterisation started from
the same weights.

The readout is ``logits = V h_T + v0`` on the last state ``h_T``, not on states pooled over time: every
pixel then reaches the readout only through the recurrence, whose parameterisation is what the study
compares (a mean over time would let early pixels bypass it). The RNN's scalar decoder ``c, c0`` is
unused here and frozen.

Same initial weights: for a seed, U, b, P (the RNN's generator) and the readout (a stream of its own) are
drawn alike under every parameterisation, and the eigenvalues ``λ = g(w)`` of ``Ŵ`` are drawn once,
log-uniformly in ``[low, high]`` (memory time scales ``1/λ`` spread over the sequence), and set through
each form's inverse, ``w = g⁻¹(λ)`` (:meth:`RNN.set_eigenvalues_`).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from curse_of_memory.models import DTYPE, RNN, log_uniform_eigenvalues
from curse_of_memory.training import Adam, fingerprint, load_resume, numerical_path, save_resume

LOGGER = logging.getLogger(__name__)


class SequenceClassifier(nn.Module):
    """Class logits (batch, classes) for pixel sequences (batch, time, 1): the RNN's last hidden state
    through a linear readout."""

    def __init__(
        self,
        width: int,
        activation: str,
        parameterization: str,
        classes: int,
        seed: int,
        initial_eigenvalues: tuple[float, float],
        dt: float = 1.0,
    ) -> None:
        super().__init__()
        self.rnn = RNN(width, activation, parameterization, dt=dt, seed=seed)
        for unused in (self.rnn.output_weight, self.rnn.output_bias):
            unused.requires_grad_(False)
        self.rnn.set_eigenvalues_(log_uniform_eigenvalues(width, *initial_eigenvalues, seed))
        # torch.nn.Linear's default initialisation, from a stream of its own (not the RNN's generator's)
        readout = np.random.default_rng([seed, 2]).uniform(-1.0, 1.0, (classes, width + 1)) / math.sqrt(width)
        self.readout_weight = nn.Parameter(torch.as_tensor(readout[:, :width], dtype=DTYPE))
        self.readout_bias = nn.Parameter(torch.as_tensor(readout[:, width], dtype=DTYPE))

    def forward(self, inputs: Tensor) -> Tensor:
        return F.linear(self.rnn.final_states(inputs), self.readout_weight, self.readout_bias)

    def trained_parameters(self) -> list[nn.Parameter]:
        return [parameter for parameter in self.parameters() if parameter.requires_grad]


@dataclass(frozen=True)
class ClassificationSettings:
    """The optimisation protocol of one training run (config section ``classification``)."""

    epochs: int
    batch_size: int
    learning_rate: float
    weight_decay: float
    evaluation_batch_size: int

    @classmethod
    def from_config(cls, section: dict) -> ClassificationSettings:
        return cls(**{name: section[name] for name in cls.__dataclass_fields__})


def evaluate(
    model: SequenceClassifier, inputs: Tensor, labels: Tensor, batch_size: int
) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a split, in batches (memory only: no effect on the values)."""
    loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(labels), batch_size):
            logits = model(inputs[start : start + batch_size])
            batch_labels = labels[start : start + batch_size]
            loss += F.cross_entropy(logits, batch_labels, reduction="sum").item()
            correct += int((logits.argmax(-1) == batch_labels).sum())
    return loss / len(labels), correct / len(labels)


def train_classifier(
    model: SequenceClassifier,
    splits: dict[str, tuple[Tensor, Tensor]],
    settings: ClassificationSettings,
    seed: int,
    report: Callable[[dict], None] = lambda row: None,
    resume_path: Path | None = None,
) -> tuple[list[dict], dict[str, Tensor], int]:
    """AdamW on the mean cross-entropy of shuffled minibatches for ``settings.epochs`` epochs, its rate
    annealed by a cosine over the epochs (``lr (1 + cos(π e / epochs)) / 2`` in epoch e + 1, as
    ``CosineAnnealingLR`` stepped per epoch: the StableSSM code's sequential-MNIST protocol), projecting
    the raw recurrent weights after every step. Returns the history — epoch 0 is the initialisation (training
    split evaluated), every later epoch the running means over its minibatches and the validation split
    after it — the weights of the trained epoch with the best validation accuracy (the authors' checkpoint
    rule; the earliest of ties), and that epoch. A non-finite loss ends training: that epoch's row records it,
    and the best weights stay those before it. With ``resume_path`` every trained epoch is checkpointed
    there, and a run killed after one continues from it to the same result bit for bit."""
    (train_x, train_y), (validation_x, validation_y) = splits["train"], splits["validation"]
    optimizer = Adam(model.trained_parameters(), settings.learning_rate, settings.weight_decay, True)
    generator = torch.Generator().manual_seed(seed)
    # the run: its protocol, seed, initial weights (every parameterisation's, the readout's) and data
    description = {"settings": asdict(settings), "model": model.rnn.hyperparameters(), "seed": seed}
    initial = model.state_dict().values()
    digest = fingerprint({**description, "state_format": 1}, *initial, train_x, train_y)
    numerical = numerical_path(model.rnn, train_x.device)
    snapshot, _ = load_resume(resume_path, digest, numerical, made_by="fit_classifier")
    if snapshot is None:
        train_loss, train_accuracy = evaluate(model, train_x, train_y, settings.evaluation_batch_size)
        validation_loss, validation_accuracy = evaluate(
            model, validation_x, validation_y, settings.evaluation_batch_size
        )
        history = [_row(model, 0, train_loss, train_accuracy, validation_loss, validation_accuracy)]
        # a checkpoint per trained epoch (the initialisation only when the first epoch already diverges)
        best_state, best_epoch, best_accuracy = copy.deepcopy(model.state_dict()), 0, -math.inf
    else:
        model.load_state_dict(snapshot["model"])
        optimizer.load_state_dict(snapshot["optimizer"])
        generator.set_state(snapshot["generator"])
        history, best_state = snapshot["history"], snapshot["best_state"]
        best_epoch, best_accuracy = snapshot["best_epoch"], snapshot["best_accuracy"]
        LOGGER.info("resumed from %s after epoch %d", resume_path, len(history) - 1)
    for row in history:
        report(row)
    for epoch in range(len(history), settings.epochs + 1):
        optimizer.learning_rate = (
            settings.learning_rate * (1 + math.cos(math.pi * (epoch - 1) / settings.epochs)) / 2
        )
        order = torch.randperm(len(train_y), generator=generator).to(train_y.device)
        loss_sum, correct, seen = 0.0, 0, 0
        for start in range(0, len(order), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            logits = model(train_x[batch])
            loss = F.cross_entropy(logits, train_y[batch])
            if not torch.isfinite(loss):
                loss_sum = math.nan
                break
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.rnn.project_()
            loss_sum += loss.item() * len(batch)
            correct += int((logits.detach().argmax(-1) == train_y[batch]).sum())
            seen += len(batch)
        if math.isnan(loss_sum):
            history.append(_row(model, epoch, math.nan, math.nan, math.nan, math.nan))
            report(history[-1])
            break
        validation_loss, validation_accuracy = evaluate(
            model, validation_x, validation_y, settings.evaluation_batch_size
        )
        history.append(
            _row(model, epoch, loss_sum / seen, correct / seen, validation_loss, validation_accuracy)
        )
        report(history[-1])
        if validation_accuracy > best_accuracy:
            best_state, best_epoch, best_accuracy = (
                copy.deepcopy(model.state_dict()),
                epoch,
                validation_accuracy,
            )
        if resume_path is not None:
            snapshot = {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "generator": generator.get_state(),
                "history": history,
                "best_state": best_state,
                "best_epoch": best_epoch,
                "best_accuracy": best_accuracy,
            }
            save_resume(resume_path, digest, numerical, copy.deepcopy(snapshot))
    return history, best_state, best_epoch


def _row(
    model: SequenceClassifier,
    epoch: int,
    train_loss: float,
    train_accuracy: float,
    validation_loss: float,
    validation_accuracy: float,
) -> dict:
    """One epoch of the history, with the recurrent weights' stability margin and gradient-over-weight
    ratios after it."""
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "train_accuracy": train_accuracy,
        "validation_loss": validation_loss,
        "validation_accuracy": validation_accuracy,
        **model.rnn.gradient_over_weight_statistics(),
    }
