"""Training: the weighted loss, the penalty, stopping rules, determinism."""

import math

import pytest
import torch

from curse_of_memory import training
from curse_of_memory.loss import temporal_weights, weighted_mse
from curse_of_memory.models import RNN
from curse_of_memory.targets import LinearFunctional, make_dataset
from curse_of_memory.training import (
    TrainingSettings,
    chained_stop_level,
    margin_penalty,
    margin_penalty_slope,
    minibatches,
    run_epochs,
    train,
)


def test_temporal_weights_follow_the_formula_and_sum_to_length():
    weights = temporal_weights(100, 2.0)
    raw = torch.tensor([((k + 1) / 101) ** 2 for k in range(100)], dtype=torch.float64)
    torch.testing.assert_close(weights, raw * 100 / raw.sum())
    assert float(weights.sum()) == pytest.approx(100.0)
    torch.testing.assert_close(temporal_weights(7, 0.0), torch.ones(7, dtype=torch.float64))


def test_weighted_mse_equals_the_direct_double_sum():
    predictions = torch.randn(3, 5, 1, dtype=torch.float64)
    targets = torch.randn(3, 5, 1, dtype=torch.float64)
    weights = temporal_weights(5, 2.0)
    direct = (
        sum(
            float(weights[k] * (predictions[n, k, 0] - targets[n, k, 0])) ** 2
            for n in range(3)
            for k in range(5)
        )
        / 15
    )
    assert float(weighted_mse(predictions, targets, weights)) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("length", [9, 16])
def test_weighted_mse_gradient_and_ensemble_values_equal_autograd_of_the_formula(length):
    """The loss's own backward = autograd through ``mean((w (ŷ − y))²)``, per member of an ensemble, and
    for a single model's loss at the end of the graph (its gradient handed back as computed)."""
    predictions = torch.randn(4, 6, length, 1, dtype=torch.float64, requires_grad=True)
    targets = torch.randn(6, length, 1, dtype=torch.float64)
    weights = temporal_weights(length, 2.0)
    direct = ((weights[:, None] * (predictions - targets)) ** 2).mean(dim=(-3, -2, -1))
    losses = weighted_mse(predictions, targets, weights)
    torch.testing.assert_close(losses, direct, rtol=1e-13, atol=0)
    with torch.no_grad():  # the evaluation path (no gradient kept), for an ensemble and for one model
        evaluated = [weighted_mse(member, targets, weights) for member in (predictions, predictions[0])]
    torch.testing.assert_close(evaluated[0], direct.detach(), rtol=1e-13, atol=0)
    torch.testing.assert_close(evaluated[1], direct[0].detach(), rtol=1e-13, atol=0)
    coefficients = torch.randn(4, dtype=torch.float64)
    (expected,) = torch.autograd.grad((direct * coefficients).sum(), predictions)
    (gradient,) = torch.autograd.grad((losses * coefficients).sum(), predictions)
    torch.testing.assert_close(gradient, expected, rtol=1e-13, atol=1e-17)
    single = predictions[0].detach().requires_grad_()
    (expected,) = torch.autograd.grad(((weights[:, None] * (single - targets)) ** 2).mean(), single)
    (gradient,) = torch.autograd.grad(weighted_mse(single, targets, weights), single)
    torch.testing.assert_close(gradient, expected, rtol=1e-13, atol=1e-17)


@pytest.mark.parametrize(("name", "weight_decay"), [("adamw", 0.01), ("adam", 0.01), ("adamw", 0.0)])
def test_optimizer_and_plateau_schedule_equal_torch_optim(name, weight_decay):
    """training.Adam + ReduceOnPlateau take torch.optim's Adam/AdamW + ReduceLROnPlateau steps
    bit for bit, through plateaus that lower the learning rate twice, and with steps where one parameter
    has no gradient (it is skipped, and its step count stays behind)."""
    settings = TrainingSettings(optimizer=name, weight_decay=weight_decay, scheduler_patience=2)
    ours, theirs = RNN(6, "tanh", "softplus", seed=1), RNN(6, "tanh", "softplus", seed=1)
    optimizer = training.make_optimizer(ours, settings)
    schedule = training.ReduceOnPlateau(optimizer, settings.scheduler_factor, settings.scheduler_patience)
    torch_class = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam}[name]
    reference = torch_class(
        theirs.parameters(), lr=settings.learning_rate, weight_decay=weight_decay, foreach=False
    )
    reference_schedule = torch.optim.lr_scheduler.ReduceLROnPlateau(
        reference, factor=settings.scheduler_factor, patience=settings.scheduler_patience
    )
    generator = torch.Generator().manual_seed(0)
    validation_losses = [1.0, 0.5, 0.5, 0.5, 0.5, 0.49999, 0.4, 0.4, 0.4, 0.4, 0.3]
    for index, loss in enumerate(validation_losses):
        for model in (ours, theirs):
            for parameter in model.parameters():
                parameter.grad = None
        pairs = list(zip(ours.parameters(), theirs.parameters(), strict=True))
        for parameter, twin in pairs[: -1 if index % 4 == 3 else None]:
            parameter.grad = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            twin.grad = parameter.grad.clone()
        optimizer.step()
        reference.step()
        schedule.step(loss)
        reference_schedule.step(loss)
        assert optimizer.learning_rate == reference.param_groups[0]["lr"]
        for (parameter, twin), step in zip(pairs, optimizer.state["step"], strict=True):
            assert torch.equal(parameter, twin) and step == reference.state[twin]["step"]
    assert optimizer.learning_rate == pytest.approx(settings.learning_rate * settings.scheduler_factor**2)


def test_margin_penalty_is_relu_of_the_gap():
    model = RNN(4, "tanh", "exp", seed=0)
    with torch.no_grad():
        model.recurrent_raw.fill_(math.log(0.25))  # every eigenvalue of Ŵ is 0.25
    settings = TrainingSettings(margin_penalty_coefficient=0.01, margin_penalty_threshold=1.0)
    assert margin_penalty(model, settings).item() == pytest.approx(0.01 * 0.75)
    relaxed = TrainingSettings(margin_penalty_coefficient=0.01, margin_penalty_threshold=0.1)
    assert margin_penalty(model, relaxed).item() == 0.0


@pytest.mark.parametrize(("threshold", "slope"), [(1.0, -0.01), (0.25, 0.0), (0.1, 0.0)])
def test_margin_penalty_slope_is_the_derivative_of_the_penalty(threshold, slope):
    """Below, at (relu's kink: 0, as torch's) and above the threshold; a diagonal Ŵ's margin is its
    smallest g, and autograd puts ∂/∂margin there."""
    model = RNN(4, "tanh", "diagonal", seed=0)
    with torch.no_grad():
        model.recurrent_raw.copy_(torch.tensor([0.5, 0.25, 2.0, 1.5]))  # the margin is 0.25
    settings = TrainingSettings(margin_penalty_coefficient=0.01, margin_penalty_threshold=threshold)
    (expected,) = torch.autograd.grad(margin_penalty(model, settings), model.recurrent_raw)
    assert margin_penalty_slope(0.25, settings) == expected[1].item() == slope


@pytest.mark.parametrize("parameterization", ["diagonal", "vanilla"])
def test_the_authors_margin_acts_on_a_relu_form_with_frozen_modes_where_the_eigenvalue_margin_does_not(
    parameterization,
):
    """Two frozen modes (w < 0, so g = relu(w) = 0): λ_min(Ŵ) = 0 gives a constant penalty with no
    gradient on w (but eigvalsh's round-off at a double 0 for the rotated form); the smallest positive
    mode (0.25) gives ``0.01 · (1 − 0.25)``, its gradient −0.01 on that mode's w alone."""
    model = RNN(4, "tanh", parameterization, seed=0)
    with torch.no_grad():
        model.recurrent_raw.copy_(torch.tensor([0.5, -0.3, 0.25, -1.0], dtype=torch.float64))
    ours = TrainingSettings(margin_penalty_coefficient=0.01, margin_kind="smallest_eigenvalue")
    authors = TrainingSettings(margin_penalty_coefficient=0.01, margin_kind="smallest_positive_mode")
    assert margin_penalty(model, ours).item() == pytest.approx(0.01, abs=1e-12)
    (still,) = torch.autograd.grad(margin_penalty(model, ours), model.recurrent_raw)
    torch.testing.assert_close(still, torch.zeros(4, dtype=torch.float64), rtol=0, atol=1e-15)  # round-off
    assert margin_penalty(model, authors).item() == pytest.approx(0.01 * 0.75)
    (acting,) = torch.autograd.grad(margin_penalty(model, authors), model.recurrent_raw)
    torch.testing.assert_close(acting, torch.tensor([0.0, 0.0, -0.01, 0.0], dtype=torch.float64))
    with torch.no_grad():
        model.recurrent_raw.fill_(-1.0)  # every mode frozen: no positive mode, no penalty
    assert model.smallest_positive_mode().item() == math.inf and margin_penalty(model, authors).item() == 0.0


def tiny_splits(memory="exp"):
    arrays = make_dataset(LinearFunctional(memory), {"train": 64, "validation": 32, "test": 32}, 20, 1.0, 0)
    return {
        split: tuple(torch.as_tensor(arrays[f"{k}_{split}"])[..., None] for k in "xy")
        for split in ("train", "validation", "test")
    }


def test_training_lowers_the_loss_and_is_deterministic():
    splits = tiny_splits()
    settings = TrainingSettings(batch_size=16, max_epochs=8, learning_rate=0.02)
    first_model, second_model = (
        RNN(4, "tanh", "softplus", seed=1),
        RNN(4, "tanh", "softplus", seed=1),
    )
    first = train(first_model, splits, settings, seed=1)
    second = train(second_model, splits, settings, seed=1)
    losses = [row["validation_loss"] for row in first.history]
    assert losses[-1] < 0.5 * losses[0]
    assert first.metrics["best_validation_loss"] == min(losses)
    for name, tensor in first.best_state.items():
        assert torch.equal(tensor, second.best_state[name]), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("activation", ["linear", "tanh", "hardtanh", "relu"])
@pytest.mark.parametrize("parameterization", ["diagonal", "vanilla", "softplus"])
def test_cuda_graph_training_steps_equal_eager_autograd_steps(activation, parameterization):
    """Steps replayed from captured CUDA graphs (two batch shapes, the penalty active) move the weights as
    eager autograd does, and each shape is captured once."""
    settings = TrainingSettings(margin_penalty_threshold=10.0)
    generator = torch.Generator().manual_seed(3)
    batches = [
        torch.randn(rows, 30, 1, generator=generator, dtype=torch.float64) for rows in (32, 20, 32, 20)
    ]
    weights = temporal_weights(30, settings.loss_weight_power).cuda()
    graphed, eager = (RNN(16, activation, parameterization, dt=0.5, seed=2).cuda() for _ in range(2))
    graphed_optimizer, eager_optimizer = (
        training.make_optimizer(graphed, settings),
        training.make_optimizer(eager, settings),
    )
    for batch in batches:
        inputs, targets = batch.cuda(), batch.cumsum(1).cuda() * 0.1
        graphed_loss = training.training_step(graphed, graphed_optimizer, inputs, targets, weights, settings)
        eager_loss = training.training_step(eager, eager_optimizer, inputs, targets, weights, settings, eager)
        assert graphed_loss == pytest.approx(eager_loss, rel=1e-12)
        for (name, parameter), reference in zip(graphed.named_parameters(), eager.parameters(), strict=True):
            torch.testing.assert_close(parameter, reference, rtol=1e-10, atol=1e-13, msg=name)
    assert len(training._CAPTURED[graphed]) == 2


@pytest.mark.parametrize(
    ("losses", "stop_below", "minimum_epochs", "epochs"),
    [
        ([5.0, 4.0, 3.0, 2.0], 100.0, 2, 2),  # the first width: below 100 at once, stops after the minimum
        ([5.0, 0.9, 0.4], 1.0, 2, 2),  # a wider width: the first epoch (past the minimum) below the level
        ([0.5, 2.0, 0.8, 0.1], 1.0, 2, 3),  # below during the minimum epochs only counts after them; the
        # current loss decides (epoch 2's 2.0 does not stop although the best, 0.5, is below the level)
        ([5.0, 4.0, 3.0], 1.0, 2, 3),  # never below: max_epochs
    ],
)
def test_chained_stop_on_a_scripted_validation_loss_sequence(
    monkeypatch, losses, stop_below, minimum_epochs, epochs
):
    scripted = iter(losses)
    monkeypatch.setattr(training, "evaluate_loss", lambda *args: next(scripted))
    settings = TrainingSettings(
        batch_size=16, max_epochs=len(losses), stop_below=stop_below, minimum_epochs=minimum_epochs
    )
    result = train(RNN(4, "linear", "softplus"), tiny_splits(), settings, 0)
    assert result.metrics["epochs"] == epochs
    reached = losses[epochs - 1] < stop_below and epochs >= minimum_epochs
    assert result.metrics["stop_reason"] == ("reached_stop_level" if reached else "max_epochs")
    assert result.metrics["best_validation_loss"] == min(losses[:epochs])


@pytest.mark.parametrize(
    ("batch_size", "minimum_steps", "epochs"),
    [(16, 0, 2), (16, 9, 3), (16, 12, 3), (16, 13, 4), (64, 3, 3), (7, 25, 3)],
)
def test_the_chained_stop_waits_for_its_minimum_steps(monkeypatch, batch_size, minimum_steps, epochs):
    """64 training sequences: 4 steps per epoch at batch 16, 1 at 64, 10 at 7 (the last batch short); the
    first epoch below the level stops only once both 2 epochs and ``minimum_steps`` steps have run."""
    monkeypatch.setattr(training, "evaluate_loss", lambda *args: 1.0)
    settings = TrainingSettings(
        batch_size=batch_size, max_epochs=6, stop_below=100.0, minimum_epochs=2, minimum_steps=minimum_steps
    )
    steps = []
    original = training.training_step
    monkeypatch.setattr(training, "training_step", lambda *args: steps.append(1) or original(*args))
    result = train(RNN(4, "linear", "softplus"), tiny_splits(), settings, 0)
    assert result.metrics["epochs"] == epochs and result.metrics["stop_reason"] == "reached_stop_level"
    assert len(steps) >= minimum_steps and len(steps) == epochs * -(-64 // batch_size)


def test_chained_stop_levels_follow_the_authors_rule():
    chained = {"enabled": True, "first_threshold": 100.0, "minimum_epochs": 2, "factor": 0.5}
    assert chained_stop_level(chained, None) == 100.0
    assert chained_stop_level(chained, 0.3) == 0.15
    assert chained_stop_level({**chained, "enabled": False}, 0.3) is None


def test_patience_ends_training_early():
    splits = tiny_splits()
    patient = train(
        RNN(4, "linear", "softplus"),
        splits,
        TrainingSettings(batch_size=16, max_epochs=500, learning_rate=0.0, early_stopping_patience=2),
        0,
    )
    assert patient.metrics["stop_reason"] == "early_stopping"
    assert patient.metrics["epochs"] < 500


@pytest.mark.reliability
def test_divergence_without_retries_stops_with_the_best_finite_checkpoint():
    splits = tiny_splits()
    model = RNN(4, "linear", "exp", seed=0)
    settings = TrainingSettings(
        batch_size=16, max_epochs=20, learning_rate=1e3, gradient_clip=None, divergence_retries=0
    )
    result = train(model, splits, settings, seed=0)
    assert result.metrics["stop_reason"] == "diverged"
    assert all(math.isfinite(row["validation_loss"]) for row in result.history)
    assert all(bool(torch.isfinite(t).all()) for t in result.best_state.values() if t.is_floating_point())


@pytest.mark.reliability
def test_divergence_retries_the_epoch_at_a_lower_learning_rate():
    splits = tiny_splits()
    settings = TrainingSettings(
        batch_size=16, max_epochs=6, learning_rate=1e3, gradient_clip=None, divergence_retries=6
    )
    model = RNN(4, "linear", "exp", seed=0)
    result = train(model, splits, settings, seed=0)
    retries = result.metrics["divergence_retries"]
    assert result.metrics["stop_reason"] == "max_epochs" and len(retries) >= 1
    assert [r["learning_rate"] for r in retries] == pytest.approx(
        [1e3 * 0.1 ** (i + 1) for i in range(len(retries))]
    )
    assert [row["epoch"] for row in result.history] == list(range(1, 7))
    assert all(math.isfinite(row["train_loss"]) for row in result.history)
    # every epoch records the recurrent weights' margin and gradient-over-weight ratios (exp: e^{-w})
    largest = max(math.exp(-w) for w in model.recurrent_raw.tolist())
    assert result.history[-1]["gradient_over_weight"] == pytest.approx(largest, rel=1e-12)


class SimulatedCrashError(Exception):
    """Stands in for the job being killed."""


@pytest.mark.reliability
def test_resume_from_a_checkpoint_ends_bit_for_bit_like_an_uninterrupted_run(tmp_path, monkeypatch):
    splits = tiny_splits("pol")
    settings = TrainingSettings(batch_size=16, max_epochs=9, checkpoint_every=4)
    uninterrupted = train(RNN(4, "tanh", "vanilla", seed=3), splits, settings, seed=3)

    validations = {"count": 0}
    real_evaluate = training.evaluate_loss

    def crash_in_epoch_six(*args):
        validations["count"] += 1
        if validations["count"] == 6:
            raise SimulatedCrashError
        return real_evaluate(*args)

    resume = tmp_path / "resume.pt"
    monkeypatch.setattr(training, "evaluate_loss", crash_in_epoch_six)
    with pytest.raises(SimulatedCrashError):
        train(RNN(4, "tanh", "vanilla", seed=3), splits, settings, seed=3, resume_path=resume)
    monkeypatch.setattr(training, "evaluate_loss", real_evaluate)
    assert resume.exists()  # written after epoch 4; epoch 5 is lost with the crash

    resumed = train(RNN(4, "tanh", "vanilla", seed=3), splits, settings, seed=3, resume_path=resume)
    assert resumed.history == uninterrupted.history
    for name, tensor in uninterrupted.best_state.items():
        assert torch.equal(tensor, resumed.best_state[name]), name


@pytest.mark.reliability
@pytest.mark.parametrize(
    "stop", [{"stop_below": 1e9, "minimum_epochs": 2}, {"early_stopping_patience": 1, "learning_rate": 10.0}]
)
def test_a_run_resumed_after_it_stopped_trains_no_further_epoch(tmp_path, monkeypatch, stop):
    """A family job killed after a width stopped retrains that width from its resume file: it must stop
    at the same epoch (the chained stop level of the next width depends on it), not train one more."""
    splits = tiny_splits("pol")
    settings = TrainingSettings(batch_size=16, max_epochs=9, checkpoint_every=5, **stop)
    resume = tmp_path / "resume.pt"
    uninterrupted = train(RNN(4, "tanh", "vanilla", seed=3), splits, settings, seed=3, resume_path=resume)
    assert uninterrupted.metrics["stop_reason"] != "max_epochs" and uninterrupted.metrics["epochs"] < 5

    def no_epoch(*args):
        raise AssertionError("a stopped run trained another epoch")

    monkeypatch.setattr(training, "evaluate_loss", no_epoch)
    resumed = train(RNN(4, "tanh", "vanilla", seed=3), splits, settings, seed=3, resume_path=resume)
    assert resumed.history == uninterrupted.history and resumed.metrics == uninterrupted.metrics
    for name, tensor in uninterrupted.best_state.items():
        assert torch.equal(tensor, resumed.best_state[name]), name


@pytest.mark.reliability
def test_a_resume_on_another_numerical_path_says_so_and_continues_from_the_checkpoint(tmp_path, caplog):
    """The metrics name the run's numerical path; a resume file written on another one (here: another
    instruction set) is resumed from its checkpoint epoch (here the last), with the change in the log and
    the metrics, and ends as a run resumed from that checkpoint on this path does."""
    from curse_of_memory.artifacts import load_torch, save_torch

    splits = tiny_splits()
    settings = TrainingSettings(batch_size=16, max_epochs=4, checkpoint_every=2)
    resume = tmp_path / "resume.pt"
    first = train(RNN(4, "tanh", "softplus"), splits, settings, 0, resume)
    here = training.numerical_path(RNN(4, "tanh", "softplus"), torch.device("cpu"))
    assert first.metrics["numerical_path"] == here and first.metrics["numerical_path_changes"] == []
    assert here["kernel"] == "stepped (hand-derived backward)" and here["isa"]
    saved = load_torch(resume, made_by="train")
    elsewhere = tmp_path / "elsewhere.pt"
    save_torch(elsewhere, {**saved, "numerical_path": {**here, "isa": "another ISA"}})
    same_path = train(RNN(4, "tanh", "softplus"), splits, settings, 0, resume)
    assert "another numerical path" not in caplog.text
    other_path = train(RNN(4, "tanh", "softplus"), splits, settings, 0, elsewhere)
    assert "another numerical path" in caplog.text and "another ISA" in caplog.text
    assert other_path.metrics["numerical_path_changes"] == [
        {"epoch": 4, "from": {**here, "isa": "another ISA"}, "to": here}
    ]
    assert other_path.history == same_path.history == first.history
    for name, tensor in same_path.best_state.items():
        assert torch.equal(tensor, other_path.best_state[name]), name


@pytest.mark.reliability
def test_a_resume_file_from_other_settings_is_ignored(tmp_path, caplog):
    splits = tiny_splits()
    resume = tmp_path / "resume.pt"
    train(
        RNN(4, "tanh", "softplus"),
        splits,
        TrainingSettings(batch_size=16, max_epochs=2, checkpoint_every=1),
        0,
        resume,
    )
    other = TrainingSettings(batch_size=16, max_epochs=3, learning_rate=0.05, checkpoint_every=1)
    result = train(RNN(4, "tanh", "softplus"), splits, other, 0, resume)
    assert "ignoring" in caplog.text
    assert [row["epoch"] for row in result.history] == [1, 2, 3]


def test_settings_from_the_quick_preset_match_its_training_section():
    from curse_of_memory.config import load_config

    from .conftest import REPO

    section = load_config(REPO / "config.yaml")["training"]
    settings = TrainingSettings.from_config(section, stop_below=0.5)
    assert settings.minimum_epochs == section["chained_early_stopping"]["minimum_epochs"]
    assert (settings.learning_rate, settings.batch_size, settings.max_epochs) == (
        section["learning_rate"],
        section["batch_size"],
        section["max_epochs"],
    )
    assert settings.scheduler_patience == section["scheduler"]["patience"]
    assert settings.divergence_lr_factor == section["divergence"]["learning_rate_factor"]
    assert settings.stop_below == 0.5


class ScriptedRun:
    """A run whose epochs follow a script (``'ok'`` trains, ``'nan'`` diverges), whose stop rule fires after
    the epochs in ``stops`` and which may retry ``retries`` times."""

    def __init__(self, script: list[str], retries: int, stops: set[int]) -> None:
        self.script, self.retries, self.stops = list(script), retries, stops
        self.recorded, self.calls = [], []

    @property
    def epoch(self) -> int:
        return len(self.recorded)

    def snapshot(self) -> dict:
        return {"epochs": list(self.recorded)}

    def train_epoch(self, epoch: int) -> dict | None:
        self.calls.append(epoch)
        return None if self.script.pop(0) == "nan" else {"train_loss": 1.0 / epoch}

    def validate(self) -> dict:
        return {"validation_loss": 2.0}

    def record(self, epoch: int, statistics: dict, started: float) -> None:
        self.recorded.append((epoch, statistics))

    def retry_diverged(self, last_good: dict, epoch: int) -> bool:
        self.retries -= 1
        return self.retries >= 0

    def stop_reason(self) -> str | None:
        return "stopped" if self.recorded and self.recorded[-1][0] in self.stops else None


@pytest.mark.parametrize(
    "script, retries, stops, expected",
    [
        (["ok"] * 5, 0, set(), ("max_epochs", [1, 2, 3, 4, 5], [2, 4])),
        (["ok", "ok", "ok"], 0, {3}, ("stopped", [1, 2, 3], [2, 3])),  # the stopping epoch is checkpointed
        (["ok", "nan", "ok", "ok", "ok", "ok"], 1, set(), ("max_epochs", [1, 2, 2, 3, 4, 5], [2, 4])),
        (["ok", "nan", "nan"], 1, set(), ("diverged", [1, 2, 2], [])),  # retries spent: no checkpoint
    ],
)
def test_the_epoch_loop_records_retries_stops_and_checkpoints_by_its_rules(script, retries, stops, expected):
    """run_epochs against a scripted run: which epochs were trained (a retried one twice), the stop reason,
    and the epochs whose snapshot was checkpointed (every 2nd, and the one the stop rule fired after)."""
    run = ScriptedRun(script, retries, stops)
    checkpoints = []
    reason = run_epochs(run, 5, lambda snapshot: checkpoints.append(len(snapshot["epochs"])), 2)
    assert (reason, run.calls, checkpoints) == expected
    assert [epoch for epoch, _ in run.recorded] == list(range(1, len(run.recorded) + 1))


def test_minibatches_partition_the_rows_in_the_generators_order():
    batches = list(minibatches(torch.Generator().manual_seed(3), 10, 4, "cpu"))
    assert [len(batch) for batch in batches] == [4, 4, 2]
    order = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    assert torch.equal(torch.cat(batches), order)
