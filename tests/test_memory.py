"""Memory functions: both definitions give |ρ| for linear functionals; they agree for linear RNNs."""

import numpy as np
import pytest
import torch

from curse_of_memory.memory import heaviside_memory, impulse_memory
from curse_of_memory.models import RNN
from curse_of_memory.targets import MEMORY_SHAPES, LinearFunctional

AMPLITUDES = [-2.0, -0.5, 0.3, 1.0]


@pytest.mark.parametrize("memory", sorted(MEMORY_SHAPES))
@pytest.mark.parametrize("dt", [1.0, 0.5])
def test_linear_functional_memory_is_abs_rho_under_both_definitions(memory, dt):
    target = LinearFunctional(memory, scale=-1.5, dt=dt)
    expected = np.abs(target.rho(dt * np.arange(80)))
    for definition in (heaviside_memory, impulse_memory):
        np.testing.assert_allclose(definition(target, 80, dt, AMPLITUDES), expected, rtol=0, atol=1e-10)


def test_linear_rnn_memory_is_its_kernel_under_both_definitions():
    """For a linear RNN, M(t_k) = |g_k|/dt with g_k = dt cᵀ (I − dt Ŵ)^k U."""
    model = RNN(5, "linear", "softplus", dt=0.5, seed=2)
    with torch.no_grad():
        transition = torch.eye(5, dtype=torch.float64) - 0.5 * model.recurrent_matrix()
        state, kernel = model.input_weight.clone(), []
        for _ in range(60):
            kernel.append(float(model.output_weight @ state))
            state = transition @ state
    expected = np.abs(kernel)
    np.testing.assert_allclose(heaviside_memory(model, 60, 0.5, [1.0]), expected, atol=1e-12)
    np.testing.assert_allclose(impulse_memory(model, 60, 0.5, [1.0]), expected, atol=1e-12)


def test_supremum_over_amplitudes_dominates_each_amplitude():
    model = RNN(6, "tanh", "vanilla", seed=3)
    every = heaviside_memory(model, 40, 1.0, AMPLITUDES)
    for amplitude in AMPLITUDES:
        assert np.all(every >= heaviside_memory(model, 40, 1.0, [amplitude]) - 1e-15)
    assert not np.allclose(heaviside_memory(model, 40, 1.0, [0.1]), heaviside_memory(model, 40, 1.0, [2.0]))


def test_bias_drift_is_not_memory():
    """A model with zero input weight has no memory, however its bias makes the state drift."""
    model = RNN(4, "tanh", "softplus", seed=0)
    with torch.no_grad():
        model.input_weight.zero_()
        model.input_bias.fill_(0.7)
    np.testing.assert_allclose(heaviside_memory(model, 30, 1.0, AMPLITUDES), 0.0, atol=1e-15)


def test_zero_amplitude_is_rejected():
    with pytest.raises(ValueError, match="non-zero"):
        heaviside_memory(LinearFunctional("exp"), 10, 1.0, [0.0, 1.0])
