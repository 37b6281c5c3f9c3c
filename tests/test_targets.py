"""Targets: FFT convolution against the direct sum, memory shapes, seeded data sets."""

import numpy as np
import pytest
import torch

from curse_of_memory.artifacts import load_dataset, save_dataset
from curse_of_memory.memory import heaviside_memory
from curse_of_memory.targets import (
    MEMORY_SHAPES,
    LinearFunctional,
    build_target,
    fft_causal_convolution,
    kind_parameters,
    make_dataset,
    shape_parameters,
    target_from_metadata,
)
from curse_of_memory.teachers import relative_position_bias


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


def test_a_longer_test_split_is_the_same_causal_map_evaluated_further():
    target = LinearFunctional("pol", dt=0.1)
    sizes = {"train": 4, "validation": 3, "test": 5}
    short = make_dataset(target, sizes, 32, 1.0, seed=2)
    longer = make_dataset(target, sizes, 32, 1.0, seed=2, test_length=100)
    assert longer["x_test"].shape == (5, 100) and longer["x_train"].shape == (4, 32)
    for split in ("train", "validation"):  # the other splits are untouched
        np.testing.assert_array_equal(longer[f"x_{split}"], short[f"x_{split}"])
    # causal: the first 32 outputs of the long test sequences are the map of their first 32 inputs
    np.testing.assert_allclose(longer["y_test"][:, :32], target.apply(longer["x_test"][:, :32]), atol=1e-12)
    np.testing.assert_allclose(longer["t"], 0.1 * np.arange(100))


def test_dataset_round_trip_keeps_metadata(tmp_path):
    target = LinearFunctional("twopart", parameters={"centre": 5.0}, scale=2.0, dt=0.5)
    arrays = make_dataset(target, {"train": 2, "validation": 2, "test": 2}, 10, 1.0, seed=0)
    spec = {"kind": "linear", "memory": "twopart", "parameters": {"centre": 5.0}, "scale": 2.0}
    metadata = {"target": spec, "dt": 0.5}
    save_dataset(tmp_path / "d.npz", arrays, metadata)
    loaded, loaded_metadata = load_dataset(tmp_path / "d.npz")
    assert target_from_metadata(loaded_metadata) == target
    np.testing.assert_array_equal(loaded["rho"], target.rho(loaded["t"]))
    np.testing.assert_array_equal(loaded["y_train"], arrays["y_train"])


def test_saturated_functional_is_tanh_of_the_linear_functional():
    inputs = np.random.default_rng(0).standard_normal((3, 30))
    spec = {"kind": "nonlinear", "memory": "pol", "parameters": {"scale": 1.0, "power": 1.5}, "scale": 0.7}
    target = build_target(spec, dt=1.0)
    linear = LinearFunctional("pol", {"scale": 1.0, "power": 1.5}, scale=0.7)
    np.testing.assert_allclose(target.apply(inputs), np.tanh(linear.apply(inputs)), rtol=1e-14)


def test_saturated_functional_memory_decays_like_rho():
    """Figure 2's requirement: the *measured* Heaviside memory decays as (t+1)^-1.5."""
    spec = {"kind": "nonlinear", "memory": "pol", "parameters": {"scale": 1.0, "power": 1.5}}
    memory = heaviside_memory(build_target(spec, dt=1.0), 200, 1.0, [-1.0, -0.1, 0.1, 1.0])
    t = np.arange(200.0)
    slope = np.polyfit(np.log(t[20:] + 1), np.log(memory[20:]), 1)[0]
    assert slope == pytest.approx(-1.5, abs=0.02)
    assert np.all(memory <= (t + 1) ** -1.5 + 1e-12)


@pytest.mark.parametrize("kind", ["teacher_rnn", "teacher_transformer"])
def test_teacher_targets_are_causal_seeded_and_unit_scale(kind):
    inputs = np.random.default_rng(1).standard_normal((64, 40))
    first = build_target({"kind": kind, "parameters": {"seed": 3}}, dt=1.0)
    again = build_target({"kind": kind, "parameters": {"seed": 3}}, dt=1.0)
    other = build_target({"kind": kind, "parameters": {"seed": 4}}, dt=1.0)
    outputs = first.apply(inputs)
    np.testing.assert_array_equal(outputs, again.apply(inputs))
    assert not np.allclose(outputs, other.apply(inputs))
    changed = inputs.copy()
    changed[:, 25:] += 1.0
    np.testing.assert_allclose(first.apply(changed)[:, :25], outputs[:, :25], atol=1e-12)
    assert 0.5 < outputs.std() < 2.0


def test_teacher_rnn_matches_its_recurrence_written_out():
    target = build_target({"kind": "teacher_rnn", "parameters": {"width": 8, "radius": 0.8, "seed": 2}}, 1.0)
    rnn, readout = target.module.rnn, target.module.readout
    weights = {name: p.detach().numpy() for name, p in rnn.named_parameters()}
    assert np.abs(np.linalg.eigvals(weights["weight_hh_l0"])).max() == pytest.approx(0.8)
    inputs = np.random.default_rng(2).standard_normal((2, 15))
    state, expected = np.zeros((2, 8)), []
    for k in range(15):
        state = np.tanh(
            state @ weights["weight_hh_l0"].T
            + inputs[:, k : k + 1] @ weights["weight_ih_l0"].T
            + weights["bias_ih_l0"]
            + weights["bias_hh_l0"]
        )
        expected.append(state @ readout.weight.detach().numpy().T + readout.bias.detach().numpy())
    np.testing.assert_allclose(target.apply(inputs), np.concatenate(expected, axis=1), rtol=1e-12)


def test_kind_parameters_name_each_kinds_settings():
    assert set(kind_parameters({"kind": "linear", "memory": "pol"})) == {"scale", "power"}
    assert {"width", "radius", "seed"} <= set(kind_parameters({"kind": "teacher_rnn"}))
    assert {"features", "heads", "layers"} <= set(kind_parameters({"kind": "teacher_transformer"}))


def test_the_transformer_teacher_is_time_homogeneous():
    """A zero (or any constant) input gives a constant output, and a delayed input a delayed output; the
    share of the output variance that does not depend on the input (the per-time mean over random inputs)
    is small, unlike a teacher with absolute positions, whose output is mostly a clock."""
    target = build_target({"kind": "teacher_transformer", "parameters": {"seed": 0}}, dt=1.0)
    for level in (0.0, 0.7):
        constant = target.apply(np.full((1, 100), level))[0]
        np.testing.assert_allclose(constant, constant[0], rtol=0, atol=1e-12)
    inputs = np.random.default_rng(5).standard_normal((512, 100))
    outputs = target.apply(inputs)
    input_independent = outputs.mean(axis=0).var() / outputs.var()
    assert input_independent < 0.05
    # causal and homogeneous: d leading zeros give the zero-input level for d steps
    shift = 10
    delayed = target.apply(np.concatenate([np.zeros((4, shift)), inputs[:4, :-shift]], axis=1))
    zero_level = target.apply(np.zeros((1, 1)))[0, 0]
    np.testing.assert_allclose(delayed[:, :shift], zero_level, atol=1e-12)


def test_relative_position_bias_depends_on_the_lag_only_and_is_causal():
    bias = relative_position_bias(6, 4)
    assert bias.shape == (4, 6, 6)
    assert bool(torch.isinf(bias[:, 0, 1:]).all()) and bool((bias.diagonal(dim1=1, dim2=2) == 0).all())
    for lag in range(6):
        values = bias.diagonal(offset=-lag, dim1=1, dim2=2)
        assert bool((values == values[:, :1]).all())
