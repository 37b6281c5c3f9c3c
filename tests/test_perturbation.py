"""Perturbation error: the β grid, the noise protocol, every draw kept, overflow recorded as inf."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from curse_of_memory.loss import temporal_weights, weighted_mse
from curse_of_memory.models import RNN
from curse_of_memory.perturbation import fixed_set_loss, noise_directions, perturbation_errors
from curse_of_memory.stability import beta_grid, error_curve


def test_beta_grid_is_the_authors_grid():
    betas = beta_grid(1e-3, 2**0.5, 21)
    np.testing.assert_allclose(betas, [0.0] + [1e-3 * 2 ** (i / 2) for i in range(21)], rtol=1e-12)
    assert betas[-1] == pytest.approx(1.024)
    assert np.all(np.diff(betas) > 0)
    assert beta_grid(1.0, 2.0, 3, include_zero=False).tolist() == [1.0, 2.0, 4.0]


def test_each_tensor_moves_by_exactly_beta_in_the_max_norm():
    model = RNN(5, "tanh", "softplus")
    directions = noise_directions(model, draws=3, seed=7)
    assert len(directions) == 3
    for direction in directions:
        assert set(direction) == {name for name, _ in model.named_parameters()}
        for name, noise in direction.items():
            assert float(noise.abs().max()) == pytest.approx(1.0), name
    again = noise_directions(model, draws=3, seed=7)
    assert all(torch.equal(a[n], b[n]) for a, b in zip(directions, again, strict=True) for n in a)
    assert not torch.equal(directions[0]["rotation"], directions[1]["rotation"])


def make_problem(activation="tanh", parameterization="softplus"):
    model = RNN(4, activation, parameterization, seed=0)
    inputs = torch.randn(8, 25, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    targets = torch.randn(8, 25, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    weights = temporal_weights(25, 2.0)
    return model, inputs, targets, weights


def test_rows_cover_every_draw_and_beta_zero_is_the_unperturbed_loss():
    model, inputs, targets, weights = make_problem()
    betas = beta_grid(1e-2, 2.0, 4)
    rows = perturbation_errors(model, fixed_set_loss(inputs, targets, weights), betas, draws=3, seed=0)
    assert len(rows) == 1 + 4 * 3
    assert [r["draw"] for r in rows if r["beta"] == 0] == [0]
    unperturbed = weighted_mse(model(inputs), targets, weights).item()
    assert rows[0]["error"] == pytest.approx(unperturbed, rel=1e-12)


def test_error_matches_a_model_with_the_noise_added_by_hand():
    model, inputs, targets, weights = make_problem("relu", "vanilla")
    rows = perturbation_errors(model, fixed_set_loss(inputs, targets, weights), np.array([0.05]), 2, seed=3)
    direction = noise_directions(model, 2, seed=3)[1]
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.add_(0.05 * direction[name])
        expected = float(weighted_mse(model(inputs), targets, weights))
    assert rows[1]["error"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.reliability
def test_overflowing_perturbed_model_records_inf_without_crashing():
    model, inputs, targets, weights = make_problem("linear", "diagonal")
    model = model.perturbation_model()  # as the rule perturbs it: relu(w), then g(w) = w
    rows = perturbation_errors(model, fixed_set_loss(inputs, targets, weights), np.array([0.0, 1e8]), 2, 0)
    assert math.isfinite(rows[0]["error"])
    assert all(r["error"] == math.inf for r in rows[1:])


def test_pairs_beyond_an_infinite_error_are_skipped_and_no_curve_changes():
    """Once a β's error is infinite, larger β are recorded as inf unevaluated: every evaluated error is the
    model's with the noise added by hand, the curve E_m(β) (max over draws, running max) is the one every
    pair evaluated gives, and fewer perturbed models are run."""
    model, inputs, targets, weights = make_problem("linear", "diagonal")
    model = model.perturbation_model()
    betas, draws = beta_grid(1e-2, 10.0, 12), 2  # 1e-2 ... 1e9: overflows from about 1e6 on
    evaluated_members = []

    def counting_loss(module, parameters):
        evaluated_members.append(parameters["output_bias"].shape[0])
        return fixed_set_loss(inputs, targets, weights)(module, parameters)

    rows = pd.DataFrame(perturbation_errors(model, counting_loss, betas, draws, 0, members_per_forward=3))
    directions = noise_directions(model, draws, seed=0)
    base = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}

    def by_hand(beta, draw):
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                parameter.copy_(base[name] + beta * directions[draw][name])
            error = float(weighted_mse(model(inputs), targets, weights))
        return error if math.isfinite(error) else math.inf

    every = rows.assign(error=[by_hand(b, d) for b, d in zip(rows["beta"], rows["draw"], strict=True)])
    evaluated = rows[rows["evaluated"]]
    by_hand_errors = every.loc[evaluated.index, "error"].tolist()
    assert evaluated["error"].tolist() == pytest.approx(by_hand_errors, rel=1e-12)
    assert not rows["evaluated"].all() and np.isinf(rows.loc[~rows["evaluated"], "error"]).all()
    assert np.isinf(evaluated["error"]).any()  # the skip follows an evaluated blow-up
    pd.testing.assert_series_equal(error_curve(rows), error_curve(every))
    assert math.isfinite(error_curve(every).iloc[4]) and math.isinf(error_curve(every).iloc[-1])
    assert sum(evaluated_members) == len(evaluated) < len(rows)


@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_batching_the_perturbed_models_does_not_change_the_errors(activation):
    """All (β, draw) pairs in one ensemble forward, in chunks of 5, or one model at a time: equal rows."""
    model, inputs, targets, weights = make_problem(activation, "softplus")
    loss = fixed_set_loss(inputs, targets, weights)
    betas = beta_grid(1e-2, 2.0, 6)
    rows = {size: perturbation_errors(model, loss, betas, 4, 0, size) for size in (1, 5, 64)}
    for size in (5, 64):
        assert [(r["beta"], r["draw"]) for r in rows[size]] == [(r["beta"], r["draw"]) for r in rows[1]]
        errors = [r["error"] for r in rows[size]]
        assert errors == pytest.approx([r["error"] for r in rows[1]], rel=1e-12)


@pytest.mark.parametrize("parameterization", ["vanilla", "softplus", "diagonal"])
def test_spectral_draws_put_every_block_on_the_beta_sphere(parameterization):
    """perturbation.norm: spectral: each block's noise has spectral norm 1 (a matrix's largest singular
    value, a vector's 2-norm), so β·direction has block norm β as in Definition 3.4; same direction as max."""
    model = RNN(6, "tanh", parameterization, seed=0)
    spectral = noise_directions(model, 3, seed=4, norm="spectral")
    maximal = noise_directions(model, 3, seed=4, norm="max")
    for by_spectral, by_max in zip(spectral, maximal, strict=True):
        for name, direction in by_spectral.items():
            if direction.dim() == 2:
                size = torch.linalg.svdvals(direction)[0]
            else:
                size = direction.pow(2).sum().sqrt()
            assert size.item() == pytest.approx(1.0, rel=1e-12), name
            ratio = direction / by_max[name]
            torch.testing.assert_close(ratio, torch.full_like(ratio, ratio.flatten()[0].item()))
    assert "rotation" in spectral[0] or parameterization == "diagonal"


def perturbed_parameters(model: RNN, betas: np.ndarray, draws: int, recurrent: str, norm: str = "max"):
    """Every perturbed member's parameters, as :func:`perturbation_errors` stacks them, in row order."""
    seen: list[dict[str, torch.Tensor]] = []

    def record(_module, parameters):
        seen.append({name: value.clone() for name, value in parameters.items()})
        return torch.zeros(parameters["output_bias"].shape[0], dtype=torch.float64)

    rows = perturbation_errors(model, record, betas, draws, seed=4, norm=norm, recurrent=recurrent)
    stacked = {name: torch.cat([chunk[name] for chunk in seen]) for name in seen[0]}
    return rows, stacked


@pytest.mark.parametrize("parameterization", ["diagonal", "vanilla"])
def test_the_shift_moves_every_eigenvalue_of_the_relu_forms_by_exactly_minus_beta(parameterization):
    """The authors' relu baselines are perturbed as g(w) = w with w ← relu(w): the shift is w − β on every
    mode in every draw, so each eigenvalue of Ŵ moves by exactly −β (the vanilla form's rotation,
    orthogonal at initialisation, held fixed to see it), frozen modes to −β, below zero."""
    model = RNN(6, "tanh", parameterization, seed=3)
    with torch.no_grad():
        model.recurrent_raw.copy_(torch.tensor([-0.7, 0.0, 0.2, 0.5, 1.3, -2.0], dtype=torch.float64))
    twin = model.perturbation_model()
    betas = np.array([0.0, 0.01, 0.3, 2.0])
    rows, stacked = perturbed_parameters(twin, betas, draws=3, recurrent="shift")
    unperturbed = torch.linalg.eigvalsh(model.recurrent_matrix())
    for row, raw in zip(rows, stacked["recurrent_raw"], strict=True):
        eigenvalues = torch.linalg.eigvalsh(twin.recurrent_matrix(twin.form.eigenvalue_map(raw)))
        torch.testing.assert_close(eigenvalues, unperturbed - row["beta"], rtol=0, atol=1e-12)
    assert (stacked["recurrent_raw"][-1] < 0).all()  # at β = 2 every mode, frozen or not, is unstable


def test_the_shift_keeps_softplus_eigenvalues_positive_and_acts_on_the_pre_map_weight():
    model = RNN(5, "tanh", "softplus", seed=1)
    betas = np.array([0.0, 0.1, 1.0, 10.0, 100.0])
    rows, stacked = perturbed_parameters(model.perturbation_model(), betas, draws=2, recurrent="shift")
    for row, raw in zip(rows, stacked["recurrent_raw"], strict=True):
        torch.testing.assert_close(raw, model.recurrent_raw.detach() - row["beta"], rtol=0, atol=1e-12)
        assert (model.form.eigenvalue_map(raw) > 0).all()


def test_the_shift_is_the_same_in_every_draw_and_leaves_the_other_tensors_noise_unchanged():
    """Only the recurrent block differs between the shift and the random draws, and the random draws are
    the N(0, I) noise normalised per block, from one seeded generator per draw, as before the shift."""
    model = RNN(4, "tanh", "vanilla", seed=2)
    shifted = noise_directions(model, 3, seed=7, recurrent="shift")
    random = noise_directions(model, 3, seed=7, recurrent="random")
    for draw, (shift, noise) in enumerate(zip(shifted, random, strict=True)):
        generator = torch.Generator().manual_seed(7 * 1_000_003 + draw)
        for name, parameter in model.named_parameters():
            drawn = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            torch.testing.assert_close(noise[name], drawn / drawn.abs().max(), rtol=0, atol=0)
            if name != "recurrent_raw":
                torch.testing.assert_close(shift[name], noise[name], rtol=0, atol=0)
        torch.testing.assert_close(shift["recurrent_raw"], -torch.ones(4, dtype=torch.float64))
    spectral = noise_directions(model, 2, seed=7, norm="spectral", recurrent="shift")
    for direction in spectral:  # the block norm of a vector is its 2-norm: the shift is −1/√m there
        torch.testing.assert_close(direction["recurrent_raw"], torch.full((4,), -0.5, dtype=torch.float64))
    with pytest.raises(ValueError, match="allowed"):
        noise_directions(model, 1, seed=0, recurrent="rotate")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_perturbation_errors_on_cuda_equal_the_cpu_errors(activation):
    """The rule's CUDA path (model, data and weights on the device): the same rows as on the CPU."""
    model, inputs, targets, weights = make_problem(activation, "vanilla")
    model = model.perturbation_model()
    betas = beta_grid(1e-2, 4.0, 8)
    on_cpu = fixed_set_loss(inputs, targets, weights)
    cpu = perturbation_errors(model, on_cpu, betas, 3, 0, 5, recurrent="shift")
    on_cuda = fixed_set_loss(inputs.cuda(), targets.cuda(), weights.cuda())
    cuda = perturbation_errors(model.cuda(), on_cuda, betas, 3, 0, 5, recurrent="shift")
    assert [(r["beta"], r["draw"], r["evaluated"]) for r in cuda] == [
        (r["beta"], r["draw"], r["evaluated"]) for r in cpu
    ]
    assert [r["error"] for r in cuda] == pytest.approx([r["error"] for r in cpu], rel=1e-9)
