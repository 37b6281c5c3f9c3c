"""Memory functions: both definitions give |ρ| for linear functionals; they agree for linear RNNs."""

import numpy as np
import pytest
import torch

from curse_of_memory.memory import as_sequence_model, heaviside_memory, impulse_memory
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
    """Up to rounding: the amplitudes' responses come from one batched forward pass, whose matrix products
    may sum a row in another order than a pass of that row alone (a few ulp, divided by the amplitude)."""
    model = RNN(6, "tanh", "vanilla", seed=3)
    every = heaviside_memory(model, 40, 1.0, AMPLITUDES)
    for amplitude in AMPLITUDES:
        assert np.all(every >= heaviside_memory(model, 40, 1.0, [amplitude]) - 1e-13 * every.max())
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


def test_memory_of_a_torch_rnn_equals_a_direct_computation():
    """torch.nn.RNN (time-major) with a linear readout, against its recurrence written out in numpy."""
    torch.manual_seed(0)
    rnn = torch.nn.RNN(1, 6, nonlinearity="tanh").double()
    readout = torch.nn.Linear(6, 1).double()
    amplitudes = [-1.5, -0.2, 0.4, 2.0]
    with torch.no_grad():
        measured = heaviside_memory(as_sequence_model(rnn, readout), 40, 1.0, amplitudes)
        measured_impulse = impulse_memory(as_sequence_model(rnn, readout), 40, 1.0, amplitudes)
    W_ih, W_hh = rnn.weight_ih_l0.detach().numpy(), rnn.weight_hh_l0.detach().numpy()
    bias = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach().numpy()
    c, c0 = readout.weight.detach().numpy()[0], readout.bias.detach().numpy()[0]

    def outputs(inputs):
        h, ys = np.zeros(6), []
        for x in inputs:
            h = np.tanh(W_ih[:, 0] * x + bias + W_hh @ h)
            ys.append(c @ h + c0)
        return np.array(ys)

    rest = outputs(np.zeros(40))
    step = [np.abs(np.diff(outputs(np.full(40, a)) - rest, prepend=0.0)) / abs(a) for a in amplitudes]
    impulse = [np.abs(outputs(np.eye(1, 40)[0] * a) - rest) / abs(a) for a in amplitudes]
    np.testing.assert_allclose(measured, np.max(step, axis=0), rtol=0, atol=1e-12)
    np.testing.assert_allclose(measured_impulse, np.max(impulse, axis=0), rtol=0, atol=1e-12)


def test_sequence_model_wrapper_needs_a_readout_for_many_features():
    gru = torch.nn.GRU(1, 4, batch_first=True)
    with pytest.raises(ValueError, match="pass readout="):
        heaviside_memory(as_sequence_model(gru), 10, 1.0, [1.0])
    lstm = torch.nn.LSTM(1, 3)  # float32, time-major: cast and transposed by the wrapper
    memory = heaviside_memory(as_sequence_model(lstm, torch.nn.Linear(3, 1)), 10, 1.0, [1.0])
    assert memory.shape == (10,) and np.isfinite(memory).all()
