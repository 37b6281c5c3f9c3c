"""Training: the weighted loss, the penalty, stopping rules, determinism."""

import math

import pytest
import torch

from curse_of_memory.models import RNN
from curse_of_memory.targets import LinearFunctional, make_dataset
from curse_of_memory.training import (
    TrainingSettings,
    margin_penalty,
    temporal_weights,
    train,
    weighted_mse,
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


def test_margin_penalty_is_relu_of_the_gap():
    model = RNN(4, "tanh", "exp", seed=0)
    with torch.no_grad():
        model.recurrent_raw.fill_(math.log(0.25))  # every eigenvalue of Ŵ is 0.25
    settings = TrainingSettings(margin_penalty_coefficient=0.01, margin_penalty_threshold=1.0)
    assert float(margin_penalty(model, settings)) == pytest.approx(0.01 * 0.75)
    relaxed = TrainingSettings(margin_penalty_coefficient=0.01, margin_penalty_threshold=0.1)
    assert float(margin_penalty(model, relaxed)) == 0.0


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


def test_chained_stop_and_patience_end_training_early():
    splits = tiny_splits()
    settings = TrainingSettings(batch_size=16, max_epochs=50, stop_below=1e9)
    chained = train(RNN(4, "linear", "softplus"), splits, settings, 0)
    assert (chained.metrics["epochs"], chained.metrics["stop_reason"]) == (1, "beat_previous_width")
    patient = train(
        RNN(4, "linear", "softplus"),
        splits,
        TrainingSettings(batch_size=16, max_epochs=500, learning_rate=0.0, early_stopping_patience=2),
        0,
    )
    assert patient.metrics["stop_reason"] == "early_stopping"
    assert patient.metrics["epochs"] < 500


def test_divergence_stops_with_the_best_finite_checkpoint():
    splits = tiny_splits()
    model = RNN(4, "linear", "exp", seed=0)
    settings = TrainingSettings(batch_size=16, max_epochs=20, learning_rate=1e3, gradient_clip=None)
    result = train(model, splits, settings, seed=0)
    assert result.metrics["stop_reason"] == "diverged"
    assert all(math.isfinite(row["validation_loss"]) for row in result.history)
    assert all(bool(torch.isfinite(t).all()) for t in result.best_state.values() if t.is_floating_point())
