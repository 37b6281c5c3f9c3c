"""Training one RNN on one target with the authors' protocol (docs/paper.md §4), all of it configurable.

Loss: the temporally weighted MSE of :mod:`curse_of_memory.loss`, plus the stability penalty
``coefficient · relu(threshold − margin)`` where margin is the smallest positive mode ``g(w)`` (the
authors') or the smallest eigenvalue of ``Ŵ`` (:meth:`curse_of_memory.models.RNN.margin`). Optimiser
AdamW (or Adam), ReduceLROnPlateau's rule on the validation loss, gradient norm clipping, the projection of
constrained parameters after every step, the checkpoint at the best validation loss.

Reliability. With a ``resume_path``, the full state (model, optimiser, scheduler, shuffling RNG,
best-so-far, history) is written there atomically every ``checkpoint_every`` epochs, and a rerun
resumes from it, ending with the same weights bit for bit. A resume file written under other
settings, another architecture, seed or data is ignored. Divergence policy: a non-finite training or
validation loss restores the state at the start of that epoch and retries it with the learning rate
multiplied by ``divergence_lr_factor``, at most ``divergence_retries`` times (each retry is recorded
in the metrics); after that the run stops with ``stop_reason = 'diverged'`` and keeps the best
finite checkpoint, never a NaN model. Stopping: ``max_epochs``, a patience on
the validation loss, and the authors' chained criterion (their ``lf_all.sh`` with Lightning's
``EarlyStopping(stopping_threshold)`` and ``min_epochs = 2``): once at least ``minimum_epochs`` epochs
and ``minimum_steps`` optimiser steps have run, stop at the first epoch whose validation loss is below
``stop_below`` — 100 for the first width, which so stops after its minimum, and half the previous
width's best validation loss for every wider one (:func:`chained_stop_level`). The authors' 2 epochs of
128,000 sequences in batches of 512 are 500 steps; ``minimum_steps`` gives a smaller data set as many.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import logging
import math
import re
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor, nn

from curse_of_memory.artifacts import load_torch, save_torch
from curse_of_memory.loss import temporal_weights, weighted_mse, weighted_mse_and_gradient
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
    margin_kind: str = "smallest_positive_mode"
    evaluation_batch_size: int = 4096
    stop_below: float | None = None
    minimum_epochs: int = 0
    minimum_steps: int = 0
    checkpoint_every: int = 5
    divergence_retries: int = 2
    divergence_lr_factor: float = 0.1

    @classmethod
    def from_config(cls, section: dict, stop_below: float | None = None) -> TrainingSettings:
        """Settings from a validated config ``training`` section (see config.yaml for each key);
        ``stop_below`` from :func:`chained_stop_level`, the minimum epochs with it."""
        chained = section["chained_early_stopping"]
        return cls(
            optimizer=section["optimizer"],
            learning_rate=section["learning_rate"],
            weight_decay=section["weight_decay"],
            batch_size=section["batch_size"],
            evaluation_batch_size=section["evaluation_batch_size"],
            max_epochs=section["max_epochs"],
            gradient_clip=section["gradient_clip"],
            scheduler_factor=section["scheduler"]["factor"],
            scheduler_patience=section["scheduler"]["patience"],
            early_stopping_patience=section["early_stopping_patience"],
            loss_weight_power=section["loss_weight_power"],
            margin_penalty_coefficient=section["margin_penalty"]["coefficient"],
            margin_penalty_threshold=section["margin_penalty"]["threshold"],
            margin_kind=section["margin_penalty"]["margin"],
            stop_below=stop_below,
            minimum_epochs=chained["minimum_epochs"] if stop_below is not None else 0,
            minimum_steps=chained["minimum_steps"] if stop_below is not None else 0,
            checkpoint_every=section["checkpoint_every"],
            divergence_retries=section["divergence"]["retries"],
            divergence_lr_factor=section["divergence"]["learning_rate_factor"],
        )


def chained_stop_level(chained: dict, previous_best_loss: float | None) -> float | None:
    """The authors' chained stop level for one width: ``first_threshold`` for the first width of a
    family (``previous_best_loss`` None), ``factor`` × the previous width's best validation loss for
    the others; None when chaining is off (``chained`` is the config's ``chained_early_stopping``)."""
    if not chained["enabled"]:
        return None
    if previous_best_loss is None:
        return chained["first_threshold"]
    return chained["factor"] * previous_best_loss


def margin_penalty(model: RNN, settings: TrainingSettings) -> Tensor:
    """``coefficient · relu(threshold − margin)``: pushes the slowest mode away from instability."""
    if settings.margin_penalty_coefficient == 0:
        return torch.zeros((), dtype=torch.float64)
    gap = settings.margin_penalty_threshold - model.margin(settings.margin_kind)
    return settings.margin_penalty_coefficient * torch.relu(gap)


def margin_penalty_slope(margin: float, settings: TrainingSettings) -> float:
    """``∂ penalty / ∂ margin`` of :func:`margin_penalty`: ``−coefficient`` while the margin is below the
    threshold, else 0 (0 at the kink too, as torch's relu)."""
    return -settings.margin_penalty_coefficient if settings.margin_penalty_threshold - margin > 0 else 0.0


class CapturedLossGradient:
    """The training loss of one CUDA mini-batch shape and its gradient, by autograd of ``model(inputs)``,
    captured once in a CUDA graph and replayed for every batch of that shape.

    Eager, the per-step recurrence launches a thousand or more tiny kernels per training step, each
    waiting on the CPU; a replay launches them all at once (docs/performance.md has the measured gain). The
    graph reads the parameters in place,
    so optimiser steps and state loads need no recapture, and a replay runs the eager pass's kernels. It
    holds the parameters, not the model (see :data:`_CAPTURED`).
    """

    #: Eager passes on a side stream before the capture (autograd and cuBLAS set up their state there).
    WARMUP = 3

    def __init__(self, model: RNN, inputs: Tensor, targets: Tensor, squared_weights: Tensor) -> None:
        self.parameters = list(model.parameters())
        self.inputs, self.targets, self.squared_weights = (
            inputs.clone(),
            targets.clone(),
            squared_weights.clone(),
        )
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.WARMUP):
                self._loss_and_gradients(model)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.loss, self.gradients = self._loss_and_gradients(model)

    def _loss_and_gradients(self, model: RNN) -> tuple[Tensor, tuple[Tensor, ...]]:
        """:func:`weighted_mse` of the static batch and its gradient for every parameter (``∂L/∂ŷ`` from
        :func:`weighted_mse_and_gradient`, as the eager step's loss hands it to autograd)."""
        with torch.enable_grad():
            outputs = model(self.inputs)
            with torch.no_grad():
                loss, output_gradient = weighted_mse_and_gradient(outputs, self.targets, self.squared_weights)
            gradients = torch.autograd.grad(outputs, self.parameters, output_gradient)
        # laid out as the parameters, as autograd's .grad
        return loss, tuple(
            gradient
            if gradient.stride() == parameter.stride()
            else torch.empty_like(parameter).copy_(gradient)
            for gradient, parameter in zip(gradients, self.parameters, strict=True)
        )

    def __call__(self, inputs: Tensor, targets: Tensor, squared_weights: Tensor) -> tuple[Tensor, tuple]:
        """Replay on this batch: the loss (a 0-d tensor) and the gradients, overwritten by the next replay."""
        self.inputs.copy_(inputs)
        self.targets.copy_(targets)
        self.squared_weights.copy_(squared_weights)
        self.graph.replay()
        return self.loss, self.gradients


def _capture_key(parameters: list[nn.Parameter], inputs: Tensor, targets: Tensor) -> tuple:
    """What a captured graph is valid for: the batch shapes and the parameters' memory (``model.to``
    moves it)."""
    return inputs.shape, targets.shape, tuple(parameter.data_ptr() for parameter in parameters)


#: The captured graphs of each model, by :func:`_capture_key`; an entry goes with its model.
_CAPTURED: weakref.WeakKeyDictionary[RNN, dict[tuple, CapturedLossGradient]] = weakref.WeakKeyDictionary()


def captured_loss_and_backward(
    model: RNN, inputs: Tensor, targets: Tensor, squared_weights: Tensor, margin_kind: str
) -> tuple[float, Callable[[Callable[[float], float]], None]] | None:
    """:meth:`RNN.loss_and_backward`'s contract on CUDA, by a :class:`CapturedLossGradient` replay: the loss
    and ``backward(margin_gradient)``, which sets the gradients and adds the term of the margin
    ``margin_kind`` by autograd (an eigenvalue decomposition does not fit in a graph: it waits on the
    CPU). None off CUDA."""
    if not inputs.is_cuda:
        return None
    captured = _CAPTURED.setdefault(model, {})
    key = _capture_key(list(model.parameters()), inputs, targets)
    if key not in captured:
        captured[key] = CapturedLossGradient(model, inputs, targets, squared_weights)
    step = captured[key]
    loss, gradients = step(inputs, targets, squared_weights)

    def backward(margin_gradient: Callable[[float], float]) -> None:
        for parameter, gradient in zip(step.parameters, gradients, strict=True):
            parameter.grad = gradient
        with torch.enable_grad():
            margin = model.margin(margin_kind)
        slope = margin_gradient(margin.item())
        if slope:
            sources = [model.recurrent_raw, *([model.rotation] if model.form.rotated else [])]
            extra = torch.autograd.grad(margin, sources, margin.new_tensor(slope))
            for source, addend in zip(sources, extra, strict=True):
                source.grad.add_(addend)

    return loss.item(), backward


def training_step(
    model: RNN,
    optimizer: Adam,
    inputs: Tensor,
    targets: Tensor,
    weights: Tensor,
    settings: TrainingSettings,
    forward: Callable[[Tensor], Tensor] | None = None,
) -> float:
    """One optimiser step on a mini-batch (loss + margin penalty, clipping, projection); the batch loss.

    A non-finite loss is returned before any update. The gradients come from :func:`loss_and_backward`.
    ``forward`` replaces ``model(inputs)`` (the speed benchmark passes a plain per-step loop over the same
    parameters; autograd differentiates it).
    """
    optimizer.zero_grad()
    value, backward = loss_and_backward(model, inputs, targets, weights, settings, forward)
    if not math.isfinite(value):
        return math.nan
    backward(functools.partial(margin_penalty_slope, settings=settings))
    if settings.gradient_clip:
        torch.nn.utils.clip_grad_norm_(optimizer.parameters, settings.gradient_clip, foreach=False)
    optimizer.step()
    model.project_()
    return value


def loss_and_backward(
    model: RNN,
    inputs: Tensor,
    targets: Tensor,
    weights: Tensor,
    settings: TrainingSettings,
    forward: Callable[[Tensor], Tensor] | None = None,
) -> tuple[float, Callable[[Callable[[float], float]], None]]:
    """The training step's one source of gradients: the batch loss and ``backward(margin_gradient)``,
    which sets every parameter's ``.grad`` to that of the loss plus the margin penalty. The model's
    hand-derived backward pass where it runs (:meth:`RNN.loss_and_backward`, CPU), on CUDA autograd
    replayed in a CUDA graph (:func:`captured_loss_and_backward`), else (the linear convolution, an
    activation without a hand-derived derivative, or ``forward`` given) autograd."""
    if forward is None:
        squared_weights = weights * weights
        closed_form = model.loss_and_backward(
            inputs, targets, squared_weights, settings.margin_kind
        ) or captured_loss_and_backward(model, inputs, targets, squared_weights, settings.margin_kind)
        if closed_form is not None:
            return closed_form
    loss = weighted_mse((forward or model)(inputs), targets, weights)

    def backward(margin_gradient: Callable[[float], float]) -> None:
        (loss + margin_penalty(model, settings)).backward()

    return loss.item(), backward


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


@dataclass
class _Progress:
    """Everything besides model, optimiser, scheduler and RNG that a resumed run needs."""

    best_state: dict[str, Tensor]
    epoch: int = 0
    best_loss: float = math.inf
    best_epoch: int = 0
    history: list[dict] = field(default_factory=list)
    retries: list[dict] = field(default_factory=list)
    path_changes: list[dict] = field(default_factory=list)


class Adam:
    """Adam, or AdamW with ``decoupled_weight_decay``: ``torch.optim.Adam``/``AdamW``'s single-tensor
    update (``foreach=False``), written with public tensor ops and its state kept here, which the unit
    tests hold equal to torch's bit for bit. Constructing a ``torch.optim.Optimizer`` imports
    ``torch._dynamo``, which costs a short training job more than its training; this does not.
    """

    def __init__(
        self,
        parameters: list[nn.Parameter],
        learning_rate: float,
        weight_decay: float,
        decoupled_weight_decay: bool,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.parameters, self.learning_rate, self.weight_decay = list(parameters), learning_rate, weight_decay
        self.decoupled_weight_decay, self.betas, self.eps = decoupled_weight_decay, betas, eps
        self.state = {
            "exp_avg": [torch.zeros_like(p) for p in self.parameters],
            "exp_avg_sq": [torch.zeros_like(p) for p in self.parameters],
            "step": [0 for _ in self.parameters],
        }

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        (beta1, beta2), learning_rate, decay = self.betas, self.learning_rate, self.weight_decay
        steps = self.state["step"]
        for index, parameter in enumerate(self.parameters):
            gradient = parameter.grad
            if gradient is None:
                continue
            steps[index] += 1
            if decay and self.decoupled_weight_decay:
                parameter.mul_(1 - learning_rate * decay)
            elif decay:
                gradient = gradient.add(parameter, alpha=decay)
            exp_avg, exp_avg_sq = self.state["exp_avg"][index], self.state["exp_avg_sq"][index]
            exp_avg.lerp_(gradient, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
            step_size = learning_rate / (1 - beta1 ** steps[index])
            denominator = (exp_avg_sq.sqrt() / (1 - beta2 ** steps[index]) ** 0.5).add_(self.eps)
            parameter.addcdiv_(exp_avg, denominator, value=-step_size)

    def state_dict(self) -> dict:
        return {"learning_rate": self.learning_rate, **self.state}

    def load_state_dict(self, state: dict) -> None:
        self.learning_rate = state["learning_rate"]
        self.state["step"] = list(state["step"])
        for key in ("exp_avg", "exp_avg_sq"):
            for tensor, saved in zip(self.state[key], state[key], strict=True):
                tensor.copy_(saved)


class ReduceOnPlateau:
    """``torch.optim.lr_scheduler.ReduceLROnPlateau``'s rule with its defaults (mode min, relative
    threshold 1e-4, no cooldown, no floor) on an :class:`Adam`: once the validation loss has not
    improved by the threshold for more than ``patience`` epochs, multiply the learning rate by
    ``factor``."""

    def __init__(self, optimizer: Adam, factor: float, patience: int, threshold: float = 1e-4) -> None:
        self.optimizer, self.factor, self.patience, self.threshold = optimizer, factor, patience, threshold
        self.best, self.bad_epochs = math.inf, 0

    def step(self, loss: float) -> None:
        if loss < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = loss, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            reduced = self.optimizer.learning_rate * self.factor
            if self.optimizer.learning_rate - reduced > 1e-8:  # torch's eps: ignore negligible changes
                self.optimizer.learning_rate = reduced
            self.bad_epochs = 0

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]


def make_optimizer(model: RNN, settings: TrainingSettings) -> Adam:
    """AdamW (decoupled weight decay) or Adam over all parameters."""
    return Adam(
        list(model.parameters()),
        settings.learning_rate,
        settings.weight_decay,
        decoupled_weight_decay=settings.optimizer == "adamw",
    )


def numerical_path(model: RNN, device: torch.device) -> dict:
    """The arithmetic a run takes, which results are bit-reproducible under: the model's kernel (how
    its outputs and gradients are computed), the instruction set torch dispatches to (or the GPU), the
    BLAS and the torch build. A resumed run on another path continues from its checkpoint and says so."""
    if model.activation == "linear":
        kernel = "convolution (autograd)"
    elif device.type == "cpu" and model._stepped_for(torch.empty(0)):
        kernel = "stepped (hand-derived backward)"
    else:
        kernel = "stepped (autograd, CUDA graph)" if device.type == "cuda" else "reference (autograd)"
    build = dict(re.findall(r"(BLAS_INFO|TORCH_VERSION|COMMIT_SHA)=([^,\s]*)", torch.__config__.show()))
    return {
        "kernel": kernel,
        "isa": torch.backends.cpu.get_cpu_capability(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "blas": build.get("BLAS_INFO", "unknown"),
        "torch": str(torch.__version__),
        "torch_commit": build.get("COMMIT_SHA", "unknown"),
    }


def fingerprint(description: dict, *data: Tensor) -> str:
    """A digest of what determines a run (a JSON description of its settings, model and seed, and its
    training data): a resume file is read only by the run that wrote it."""
    digest = hashlib.sha256()
    digest.update(json.dumps(description, sort_keys=True).encode())
    for tensor in data:
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def run_fingerprint(model: RNN, settings: TrainingSettings, seed: int, targets: Tensor) -> str:
    """The fingerprint of a regression run: settings, architecture, seed and the training targets."""
    description = {"settings": asdict(settings), "model": model.hyperparameters(), "seed": seed}
    description["state_format"] = 3  # resume files of earlier optimiser states are not read
    return fingerprint(description, targets)


def minibatches(generator: torch.Generator, count: int, batch_size: int, device) -> Iterator[Tensor]:
    """One epoch's mini-batches: the row indices of a permutation of ``count`` rows drawn from
    ``generator``, in slices of ``batch_size``."""
    order = torch.randperm(count, generator=generator).to(device)
    for start in range(0, count, batch_size):
        yield order[start : start + batch_size]


class EpochRun(Protocol):
    """One training run as :func:`run_epochs` drives it: a regression (:class:`RegressionRun`) or a
    classifier (:class:`curse_of_memory.classification.ClassifierRun`)."""

    @property
    def epoch(self) -> int:
        """The epochs trained and recorded so far."""

    def snapshot(self) -> dict:
        """A deep copy of everything a resumed run or a retried epoch starts from."""

    def train_epoch(self, epoch: int) -> dict | None:
        """One pass of optimiser steps over the training split: its statistics, None once not finite."""

    def validate(self) -> dict | None:
        """The validation split's statistics after the epoch, None when they diverge the run."""

    def record(self, epoch: int, statistics: dict, started: float) -> None:
        """A finished epoch: its schedule, the best state so far and its history row."""

    def retry_diverged(self, last_good: dict, epoch: int) -> bool:
        """After a non-finite ``epoch``: ready to run it again from ``last_good``, or False (it stops)."""

    def stop_reason(self) -> str | None:
        """Why the run stops after its last recorded epoch (None: it goes on)."""


def run_epochs(
    run: EpochRun,
    max_epochs: int,
    checkpoint: Callable[[dict], None] | None = None,
    checkpoint_every: int = 1,
) -> str:
    """The epoch loop of every trained model: train, validate and record epochs until the run's stop rule
    or ``max_epochs``; a non-finite epoch is retried or ends the run, as the run's policy says. The run's
    snapshot goes to ``checkpoint`` every ``checkpoint_every`` epochs and at the stopping epoch (so a job
    killed later resumes past it at once). Returns the stop reason (``max_epochs`` when none fired)."""
    last_good = run.snapshot()
    stop_reason = run.stop_reason()
    while stop_reason is None and run.epoch < max_epochs:
        epoch = run.epoch + 1
        started = time.perf_counter()
        statistics = run.train_epoch(epoch)
        validation = None if statistics is None else run.validate()
        if validation is None:
            if not run.retry_diverged(last_good, epoch):
                return "diverged"
            last_good = run.snapshot()
            continue
        run.record(epoch, {**statistics, **validation}, started)
        last_good = run.snapshot()
        stop_reason = run.stop_reason()
        if checkpoint is not None and (stop_reason is not None or epoch % checkpoint_every == 0):
            checkpoint(last_good)
    return stop_reason or "max_epochs"


class RegressionRun:
    """One regression run (an RNN fitted to a target): its model, optimiser, plateau schedule, shuffling
    RNG and progress, with snapshot/restore for resume and retries."""

    def __init__(
        self, model: RNN, splits: dict[str, tuple[Tensor, Tensor]], settings: TrainingSettings, seed: int
    ) -> None:
        self.model, self.settings = model, settings
        (self.inputs, self.targets), self.validation = splits["train"], splits["validation"]
        self.weights = temporal_weights(self.inputs.shape[1], settings.loss_weight_power).to(
            self.inputs.device
        )
        steps_per_epoch = -(-self.inputs.shape[0] // settings.batch_size)
        self.minimum_epochs = max(settings.minimum_epochs, -(-settings.minimum_steps // steps_per_epoch))
        self.optimizer = make_optimizer(model, settings)
        self.scheduler = ReduceOnPlateau(
            self.optimizer, factor=settings.scheduler_factor, patience=settings.scheduler_patience
        )
        self.generator = torch.Generator().manual_seed(seed)
        self.progress = _Progress(best_state=copy.deepcopy(model.state_dict()))

    @property
    def epoch(self) -> int:
        return self.progress.epoch

    def snapshot(self) -> dict:
        return copy.deepcopy(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "generator": self.generator.get_state(),
                "progress": asdict(self.progress),
            }
        )

    def restore(self, snapshot: dict) -> None:
        self.model.load_state_dict(snapshot["model"])
        self.optimizer.load_state_dict(snapshot["optimizer"])
        self.scheduler.load_state_dict(snapshot["scheduler"])
        self.generator.set_state(snapshot["generator"])
        self.progress = _Progress(**copy.deepcopy(snapshot["progress"]))

    def train_epoch(self, epoch: int) -> dict | None:
        """One pass over shuffled mini-batches: the mean training loss, or None once it is not finite."""
        running = 0.0
        batches = minibatches(
            self.generator, self.inputs.shape[0], self.settings.batch_size, self.inputs.device
        )
        for batch in batches:
            loss = training_step(
                self.model,
                self.optimizer,
                self.inputs[batch],
                self.targets[batch],
                self.weights,
                self.settings,
            )
            if not math.isfinite(loss):
                return None
            running += loss * len(batch)
        return {"train_loss": running / self.inputs.shape[0]}

    def validate(self) -> dict | None:
        loss = evaluate_loss(self.model, *self.validation, self.settings)
        return {"validation_loss": loss} if math.isfinite(loss) else None

    def stop_reason(self) -> str | None:
        """Read off the history, so that a run resumed from the checkpoint of the epoch it stopped at stops
        there again: the chained stop level (after the minimum epochs and steps) or the patience."""
        settings, progress = self.settings, self.progress
        if not progress.history:
            return None
        validation_loss = progress.history[-1]["validation_loss"]
        if (
            settings.stop_below is not None
            and progress.epoch >= self.minimum_epochs
            and validation_loss < settings.stop_below
        ):
            return "reached_stop_level"
        patience = settings.early_stopping_patience
        if patience is not None and progress.epoch - progress.best_epoch >= patience:
            return "early_stopping"
        return None

    def retry_diverged(self, last_good: dict, epoch: int) -> bool:
        """Back to the epoch's start at a lower learning rate (the divergence policy), or False once the
        retries are spent (the run stops with its best finite state)."""
        retries = self.progress.retries
        if len(retries) >= self.settings.divergence_retries:
            LOGGER.error(
                "epoch %d: loss is not finite after %d retries; stopping with the best finite "
                "checkpoint (epoch %d)",
                epoch,
                len(retries),
                self.progress.best_epoch,
            )
            return False
        self.restore(last_good)
        self.optimizer.learning_rate *= self.settings.divergence_lr_factor
        learning_rate = self.optimizer.learning_rate
        self.progress.retries = [*retries, {"epoch": epoch, "learning_rate": learning_rate}]
        LOGGER.warning(
            "epoch %d: loss is not finite; retrying it at learning rate %.1e", epoch, learning_rate
        )
        return True

    def record(self, epoch: int, statistics: dict, started: float) -> None:
        """The plateau schedule steps, the best state is kept, the history row is appended (with the
        stability margin and |g'(w)|/g(w)² of the modes) and logged."""
        progress, model = self.progress, self.model
        train_loss, validation_loss = statistics["train_loss"], statistics["validation_loss"]
        self.scheduler.step(validation_loss)
        if validation_loss < progress.best_loss:
            progress.best_loss, progress.best_epoch = validation_loss, epoch
            progress.best_state = copy.deepcopy(model.state_dict())
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "validation_loss": validation_loss,
            "best_validation_loss": progress.best_loss,
            "learning_rate": self.optimizer.learning_rate,
            **model.gradient_over_weight_statistics(),
        }
        progress.history.append(row)
        progress.epoch = epoch
        LOGGER.info(
            "epoch %4d  train %.4e  validation %.4e  best %.4e  lr %.1e  margin %+.4f  %.2fs",
            epoch,
            train_loss,
            validation_loss,
            progress.best_loss,
            row["learning_rate"],
            row["stability_margin"],
            time.perf_counter() - started,
        )


def save_resume(path: Path, run_fingerprint: str, numerical: dict, snapshot: dict) -> None:
    """Write a run's resume file (atomically, as every artifact): its snapshot, what run wrote it, where."""
    save_torch(path, {"fingerprint": run_fingerprint, "numerical_path": numerical, "snapshot": snapshot})


def load_resume(
    path: Path | None, run_fingerprint: str, numerical: dict, made_by: str = "train"
) -> tuple[dict | None, dict | None]:
    """The resume snapshot at ``path`` if it exists and was written by this very run, and the change of
    numerical path (:func:`numerical_path`) since it was written, if any: such a snapshot is resumed, and
    the log says what changed."""
    if path is None or not Path(path).exists():
        return None, None
    saved = load_torch(path, made_by=made_by)
    if saved.get("fingerprint") != run_fingerprint:
        LOGGER.warning("ignoring %s: written by a run with other settings, model, seed or data", path)
        return None, None
    written_on = saved.get("numerical_path")
    if written_on == numerical:
        return saved["snapshot"], None
    changed = {
        key: (written_on or {}).get(key) for key in numerical if (written_on or {}).get(key) != numerical[key]
    }
    LOGGER.warning(
        "%s was written on another numerical path (%s); the run continues from that checkpoint on %s",
        path,
        changed,
        numerical,
    )
    return saved["snapshot"], {"from": written_on, "to": numerical}


def train(
    model: RNN,
    splits: dict[str, tuple[Tensor, Tensor]],
    settings: TrainingSettings,
    seed: int,
    resume_path: Path | None = None,
) -> TrainingResult:
    """Train ``model`` in place on ``splits['train']``, selecting on ``splits['validation']``.

    Mini-batches are shuffled by a generator seeded with ``seed``. See the module docstring for
    resuming (``resume_path``) and the divergence policy.
    """
    run = RegressionRun(model, splits, settings, seed)
    digest = run_fingerprint(model, settings, seed, splits["train"][1])
    numerical = numerical_path(model, splits["train"][0].device)
    resumed, path_change = load_resume(resume_path, digest, numerical)
    if resumed is not None:
        run.restore(resumed)
        if path_change is not None:
            run.progress.path_changes.append({"epoch": run.progress.epoch, **path_change})
        LOGGER.info("resumed from %s after epoch %d", resume_path, run.progress.epoch)
    checkpoint = (
        None if resume_path is None else functools.partial(save_resume, resume_path, digest, numerical)
    )
    stop_reason = run_epochs(run, settings.max_epochs, checkpoint, settings.checkpoint_every)
    progress = run.progress
    metrics = {
        "best_epoch": progress.best_epoch,
        "best_validation_loss": progress.best_loss,
        "epochs": len(progress.history),
        "stop_reason": stop_reason,
        "divergence_retries": progress.retries,
        "numerical_path": numerical,
        "numerical_path_changes": progress.path_changes,
    }
    return TrainingResult(best_state=progress.best_state, history=progress.history, metrics=metrics)
