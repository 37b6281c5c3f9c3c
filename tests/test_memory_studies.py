"""Memory studies without training: decay fits, definition agreement, random models (Fig. 10), the 2-D
tanh RNN (Fig. 11), each against a closed form or the recurrence written out."""

import numpy as np
import pytest
import torch

from curse_of_memory.decay import decays_exponentially, exponential_fit, power_law_fit
from curse_of_memory.dynamics import (
    PAPER_WEIGHTS,
    attractors,
    random_tanh_weights,
    tail_ratio,
    tanh_map,
    tanh_rnn,
)
from curse_of_memory.memory import definition_agreement, heaviside_memory, impulse_memory
from curse_of_memory.random_models import FAMILIES, S4DLayer, random_model

T = np.arange(200, dtype=float)


def test_decay_fits_recover_known_rates_and_powers():
    exponential = 3.0 * np.exp(-0.2 * T)
    fit = exponential_fit(T, exponential)
    assert fit.slope == pytest.approx(0.2) and fit.r_squared == pytest.approx(1.0)
    power = 2.0 * (T + 1) ** -1.5
    assert power_law_fit(T, power).slope == pytest.approx(1.5)
    assert power_law_fit(T, power).r_squared == pytest.approx(1.0)
    assert decays_exponentially(T, exponential)
    assert not decays_exponentially(T, power)
    assert not decays_exponentially(T, 1.0 + 0.5 * np.sin(T))  # no decay at all


def test_fits_ignore_values_decayed_to_round_off():
    memory = np.exp(-0.5 * T)
    memory[T > 60] = 1e-300  # far below the resolved floor
    assert exponential_fit(T, memory).slope == pytest.approx(0.5)


def test_definitions_agree_exactly_for_a_linear_model_and_not_for_different_curves():
    memory = np.exp(-0.1 * T)
    same = definition_agreement(memory, memory)
    assert same["relative_l1_difference"] == 0.0 and same["log_correlation"] == pytest.approx(1.0)
    other = definition_agreement(memory, (T + 1) ** -2.0)
    assert other["relative_l1_difference"] > 0.5


@pytest.mark.parametrize("family", FAMILIES)
def test_random_models_are_seeded_causal_sequence_models(family):
    inputs = torch.randn(3, 30, 1, dtype=torch.float64)
    model, again, other = (random_model(family, 2, 8, seed) for seed in (1, 1, 2))
    with torch.no_grad():
        outputs = model(inputs)
        changed = inputs.clone()
        changed[:, 20:] += 1.0
        assert outputs.shape == (3, 30, 1)
        torch.testing.assert_close(outputs, again(inputs))
        assert not torch.allclose(outputs, other(inputs))
        torch.testing.assert_close(model(changed)[:, :20], outputs[:, :20])


def test_s4d_layer_convolution_equals_its_recurrence():
    layer = S4DLayer(3, state=4, generator=torch.Generator().manual_seed(0))
    length = 25
    inputs = torch.randn(2, length, 3, dtype=torch.float64)
    step_a = (layer.step * layer.a).to(torch.complex128)
    a_bar, b_bar = torch.exp(step_a), (torch.exp(step_a) - 1.0) / layer.a.to(torch.complex128)
    state = torch.zeros(2, 3, a_bar.shape[1], dtype=torch.complex128)
    outputs = []
    for k in range(length):
        state = a_bar * state + b_bar * inputs[:, k, :, None]
        outputs.append(2.0 * (layer.c.to(torch.complex128) * state).sum(-1).real + layer.d * inputs[:, k])
    expected = inputs + layer.mix(torch.nn.functional.gelu(torch.stack(outputs, dim=1)))
    with torch.no_grad():
        torch.testing.assert_close(layer(inputs), expected, rtol=1e-10, atol=1e-12)


def test_the_paper_2d_rnn_has_the_three_attractors_and_a_period_two_orbit():
    weights = np.array(PAPER_WEIGHTS)
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 9), np.linspace(-2, 2, 9)), axis=-1).reshape(-1, 2)
    np.testing.assert_array_equal(attractors(weights, grid), [[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]])
    state = np.array([1.0, 1.0])
    for _ in range(200):
        state = tanh_map(state, weights)
    assert np.allclose(tanh_map(tanh_map(state, weights), weights), state, atol=1e-9)
    assert not np.allclose(tanh_map(state, weights), state, atol=1e-2)


def test_tanh_rnn_is_the_recurrence_and_the_paper_rnn_memory_never_decays():
    weights, inputs_weights, readout = random_tanh_weights(4, 0.9, seed=0)
    model = tanh_rnn(weights, inputs_weights, readout)
    inputs = np.random.default_rng(0).standard_normal(12)
    state, expected = np.zeros(4), []
    for x in inputs:
        state = np.tanh(state @ weights + inputs_weights * x)
        expected.append(readout @ state)
    with torch.no_grad():
        outputs = model(torch.as_tensor(inputs)[None, :, None])[0, :, 0].numpy()
    np.testing.assert_allclose(outputs, expected, rtol=1e-12)
    assert np.abs(np.linalg.eigvals(weights)).max() == pytest.approx(0.9)
    paper = tanh_rnn(np.array(PAPER_WEIGHTS), np.array([1.0, 1.0]), np.array([1.0, 0.0]))
    memory = heaviside_memory(paper, 300, 1.0, [0.1, 1.0])
    assert tail_ratio(memory, 50) > 0.5
    contracting = heaviside_memory(model, 300, 1.0, [0.1, 1.0])
    assert tail_ratio(contracting, 50) < 1e-6
    assert impulse_memory(model, 300, 1.0, [0.1])[-1] < 1e-10
