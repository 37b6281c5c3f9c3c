"""Targets: FFT convolution against the direct sum, memory shapes, seeded data sets."""

import numpy as np
import pytest

from curse_of_memory.targets import (
    MEMORY_SHAPES,
    LinearFunctional,
    fft_causal_convolution,
    load_dataset,
    make_dataset,
    save_dataset,
    shape_parameters,
    target_from_metadata,
)


def direct_sum(inputs: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``y_k = Σ_{s≤k} kernel_s x_{k−s}`` by the O(T²) double loop."""
    outputs = np.zeros_like(inputs)
    for k in range(inputs.shape[-1]):
        for s in range(k + 1):
            outputs[..., k] += kernel[s] * inputs[..., k - s]
    return outputs


@pytest.mark.parametrize("memory", sorted(MEMORY_SHAPES))
@pytest.mark.parametrize("dt", [1.0, 0.25])
def test_fft_output_equals_direct_sum(memory, dt):
    target = LinearFunctional(memory, dt=dt, scale=1.7)
    inputs = np.random.default_rng(0).standard_normal((5, 60))
    expected = direct_sum(inputs, target.kernel(60))
    np.testing.assert_allclose(target.apply(inputs), expected, rtol=0, atol=1e-12)


def test_fft_convolution_is_causal():
    inputs = np.zeros((1, 30))
    inputs[0, 10] = 1.0
    outputs = fft_causal_convolution(inputs, np.ones(30))
    np.testing.assert_allclose(outputs[0, :10], 0.0, atol=1e-14)
    np.testing.assert_allclose(outputs[0, 10:], 1.0, atol=1e-12)


def test_memory_shapes_match_their_formulas():
    t = np.arange(5.0)
    np.testing.assert_allclose(LinearFunctional("exp").rho(t), np.exp(-t))
    np.testing.assert_allclose(LinearFunctional("pol").rho(t), (1 + 0.1 * t) ** -1.1)
    fig1 = LinearFunctional("pol", parameters={"scale": 1.0, "power": 1.1})
    np.testing.assert_allclose(fig1.rho(t), (t + 1) ** -1.1)
    shifted = LinearFunctional("shift").rho(np.array([9.0, 10.0, 11.0]))
    np.testing.assert_array_equal(shifted, [0.0, 1.0, 0.0])
    assert shape_parameters("pol") == {"scale": 0.1, "power": 1.1}


def test_dataset_is_seeded_and_shares_inputs_across_targets():
    sizes = {"train": 8, "validation": 4, "test": 4}
    first = make_dataset(LinearFunctional("exp"), sizes, 20, 1.0, seed=3)
    again = make_dataset(LinearFunctional("exp"), sizes, 20, 1.0, seed=3)
    other_target = make_dataset(LinearFunctional("pol"), sizes, 20, 1.0, seed=3)
    other_seed = make_dataset(LinearFunctional("exp"), sizes, 20, 1.0, seed=4)
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    np.testing.assert_array_equal(first["x_train"], other_target["x_train"])
    assert not np.allclose(first["x_train"], other_seed["x_train"])
    assert not np.allclose(first["x_train"], first["x_test"][:4].repeat(2, axis=0))
    assert first["x_train"].shape == (8, 20) and first["y_test"].shape == (4, 20)


def test_dataset_round_trip_keeps_metadata(tmp_path):
    target = LinearFunctional("twopart", parameters={"centre": 5.0}, scale=2.0, dt=0.5)
    arrays = make_dataset(target, {"train": 2, "validation": 2, "test": 2}, 10, 1.0, seed=0)
    metadata = {"memory": "twopart", "parameters": {"centre": 5.0}, "scale": 2.0, "dt": 0.5}
    save_dataset(tmp_path / "d.npz", arrays, metadata)
    loaded, loaded_metadata = load_dataset(tmp_path / "d.npz")
    assert target_from_metadata(loaded_metadata) == target
    np.testing.assert_array_equal(loaded["rho"], target.rho(loaded["t"]))
    np.testing.assert_array_equal(loaded["y_train"], arrays["y_train"])
