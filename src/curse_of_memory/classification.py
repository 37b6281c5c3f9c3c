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
import functools
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
from curse_of_memory.training import (
    Adam,
    fingerprint,
    load_resume,
    minibatches,
    numerical_path,
    run_epochs,
    save_resume,
)

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


class ClassifierRun:
    """One classifier's training as :func:`curse_of_memory.training.run_epochs` drives it: AdamW on the
    mean cross-entropy of shuffled minibatches, its rate annealed by a cosine over the epochs, the best
    validation accuracy selecting; ``report`` receives every history row."""

    def __init__(
        self,
        model: SequenceClassifier,
        splits: dict[str, tuple[Tensor, Tensor]],
        settings: ClassificationSettings,
        seed: int,
        report: Callable[[dict], None],
    ) -> None:
        self.model, self.settings, self.report = model, settings, report
        self.train, self.validation = splits["train"], splits["validation"]
        self.optimizer = Adam(model.trained_parameters(), settings.learning_rate, settings.weight_decay, True)
        self.generator = torch.Generator().manual_seed(seed)
        self.history: list[dict] = []
        self.best_state, self.best_epoch, self.best_accuracy = copy.deepcopy(model.state_dict()), 0, -math.inf

    @property
    def epoch(self) -> int:
        return len(self.history) - 1

    def evaluate_initialisation(self) -> None:
        """Epoch 0: the initial weights on the training and validation splits."""
        train = evaluate(self.model, *self.train, self.settings.evaluation_batch_size)
        validation = evaluate(self.model, *self.validation, self.settings.evaluation_batch_size)
        self.history.append(_row(self.model, 0, *train, *validation))

    def snapshot(self) -> dict:
        return copy.deepcopy(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(),
                "history": self.history,
                "best_state": self.best_state,
                "best_epoch": self.best_epoch,
                "best_accuracy": self.best_accuracy,
            }
        )

    def restore(self, snapshot: dict) -> None:
        self.model.load_state_dict(snapshot["model"])
        self.optimizer.load_state_dict(snapshot["optimizer"])
        self.generator.set_state(snapshot["generator"])
        self.history, self.best_state = snapshot["history"], snapshot["best_state"]
        self.best_epoch, self.best_accuracy = snapshot["best_epoch"], snapshot["best_accuracy"]

    def train_epoch(self, epoch: int) -> dict | None:
        """Epoch ``epoch``'s steps at ``lr (1 + cos(π (epoch − 1) / epochs)) / 2`` (``CosineAnnealingLR``
        stepped per epoch), projecting the raw recurrent weights after each; the running means of loss
        and accuracy over its minibatches, or None at the first non-finite loss."""
        settings, (inputs, labels) = self.settings, self.train
        self.optimizer.learning_rate = (
            settings.learning_rate * (1 + math.cos(math.pi * (epoch - 1) / settings.epochs)) / 2
        )
        loss_sum, correct = 0.0, 0
        for batch in minibatches(self.generator, len(labels), settings.batch_size, labels.device):
            logits = self.model(inputs[batch])
            loss = F.cross_entropy(logits, labels[batch])
            if not torch.isfinite(loss):
                return None
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.model.rnn.project_()
            loss_sum += loss.item() * len(batch)
            correct += int((logits.detach().argmax(-1) == labels[batch]).sum())
        return {"train_loss": loss_sum / len(labels), "train_accuracy": correct / len(labels)}

    def validate(self) -> dict:
        loss, accuracy = evaluate(self.model, *self.validation, self.settings.evaluation_batch_size)
        return {"validation_loss": loss, "validation_accuracy": accuracy}

    def record(self, epoch: int, statistics: dict, started: float) -> None:
        """The epoch's row; its weights kept when its validation accuracy is the best so far (the earliest
        of ties, the authors' checkpoint rule)."""
        self.history.append(_row(self.model, epoch, *statistics.values()))
        self.report(self.history[-1])
        if statistics["validation_accuracy"] > self.best_accuracy:
            self.best_state = copy.deepcopy(self.model.state_dict())
            self.best_epoch, self.best_accuracy = epoch, statistics["validation_accuracy"]

    def retry_diverged(self, last_good: dict, epoch: int) -> bool:
        """No retry: the epoch's row records the divergence (NaN) and training ends, the best weights
        those before it."""
        self.history.append(_row(self.model, epoch, math.nan, math.nan, math.nan, math.nan))
        self.report(self.history[-1])
        return False

    def stop_reason(self) -> None:
        """The classifier trains its epochs to the end."""
        return None


def train_classifier(
    model: SequenceClassifier,
    splits: dict[str, tuple[Tensor, Tensor]],
    settings: ClassificationSettings,
    seed: int,
    report: Callable[[dict], None] = lambda row: None,
    resume_path: Path | None = None,
) -> tuple[list[dict], dict[str, Tensor], int]:
    """``settings.epochs`` epochs of :class:`ClassifierRun` (the StableSSM code's sequential-MNIST
    protocol). Returns the history — epoch 0 is the initialisation, every later epoch the running means
    over its minibatches and the validation split after it — the weights of the trained epoch with the
    best validation accuracy, and that epoch. With ``resume_path`` every trained epoch is checkpointed
    there, and a run killed after one continues from it to the same result bit for bit."""
    run = ClassifierRun(model, splits, settings, seed, report)
    # the run: its protocol, seed, initial weights (every parameterisation's, the readout's) and data
    description = {"settings": asdict(settings), "model": model.rnn.hyperparameters(), "seed": seed}
    digest = fingerprint({**description, "state_format": 1}, *model.state_dict().values(), *splits["train"])
    numerical = numerical_path(model.rnn, splits["train"][0].device)
    snapshot, _ = load_resume(resume_path, digest, numerical, made_by="fit_classifier")
    if snapshot is None:
        run.evaluate_initialisation()
    else:
        run.restore(snapshot)
        LOGGER.info("resumed from %s after epoch %d", resume_path, run.epoch)
    for row in run.history:
        report(row)
    checkpoint = (
        None if resume_path is None else functools.partial(save_resume, resume_path, digest, numerical)
    )
    run_epochs(run, settings.epochs, checkpoint)
    return run.history, run.best_state, run.best_epoch


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
