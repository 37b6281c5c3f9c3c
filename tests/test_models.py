"""The residual RNN: forward against a plain recurrence, parameterisation invariants, the margin."""

import numpy as np
import pytest
import torch

from curse_of_memory.models import (
    ACTIVATIONS,
    PARAMETERIZATIONS,
    RNN,
    model_from_payload,
    save_checkpoint_payload,
)

NUMPY_ACTIVATIONS = {
    "linear": lambda z: z,
    "tanh": np.tanh,
    "hardtanh": lambda z: np.clip(z, -1.0, 1.0),
    "relu": lambda z: np.maximum(z, 0.0),
}


def plain_recurrence(model: RNN, inputs: np.ndarray) -> np.ndarray:
    """``h_{k+1} = h_k + dt σ(U x_k + b − Ŵ h_k)``, ``ŷ_k = cᵀ h_{k+1} + c0`` step by step in numpy."""
    U = model.input_weight.detach().numpy()
    b = model.input_bias.detach().numpy()
    W = model.recurrent_matrix().detach().numpy()
    c = model.output_weight.detach().numpy()
    c0 = model.output_bias.detach().numpy()[0]
    sigma = NUMPY_ACTIVATIONS[model.activation]
    outputs = np.zeros(inputs.shape[:2])
    for n in range(inputs.shape[0]):
        h = np.zeros(model.width)
        for k in range(inputs.shape[1]):
            h = h + model.dt * sigma(U * inputs[n, k, 0] + b - W @ h)
            outputs[n, k] = c @ h + c0
    return outputs[..., None]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("parameterization", sorted(PARAMETERIZATIONS))
@pytest.mark.parametrize("dt", [1.0, 0.3])
def test_forward_equals_plain_recurrence(activation, parameterization, dt):
    model = RNN(6, activation, parameterization, dt=dt, seed=1)
    inputs = torch.randn(3, 50, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = plain_recurrence(model, inputs.numpy())
    scale = max(1.0, np.abs(expected).max())
    np.testing.assert_allclose(model(inputs).detach().numpy(), expected, rtol=0, atol=1e-10 * scale)


TORCH_ACTIVATIONS = {
    "linear": lambda z: z,
    "tanh": torch.tanh,
    "hardtanh": torch.nn.functional.hardtanh,
    "relu": torch.relu,
}


def autograd_recurrence(model: RNN, inputs: torch.Tensor) -> torch.Tensor:
    """The recurrence as a plain per-step autograd loop over the model's own parameters."""
    W = model.recurrent_matrix()
    h = torch.zeros(inputs.shape[0], model.width, dtype=torch.float64)
    outputs = []
    for k in range(inputs.shape[1]):
        drive = inputs[:, k] * model.input_weight + model.input_bias
        h = h + model.dt * TORCH_ACTIVATIONS[model.activation](drive - h @ W.T)
        outputs.append(h @ model.output_weight + model.output_bias)
    return torch.stack(outputs, dim=1)[..., None]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("parameterization", ["diagonal", "vanilla", "softplus", "exp"])
def test_gradients_equal_a_plain_autograd_loop(activation, parameterization):
    """The forward with inputs that need gradients (convolution for linear, the reference recurrence
    otherwise; the hand-derived path is held to it in test_recurrence.py) against autograd."""
    model = RNN(5, activation, parameterization, dt=0.3, seed=2)  # a stable discretisation
    with torch.no_grad():
        model.recurrent_raw.add_(0.3)  # keep the baselines' eigenvalues off the projection boundary
    inputs = torch.randn(4, 30, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(9))
    inputs.requires_grad_(True)
    probe = torch.randn(4, 30, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    fast = torch.autograd.grad((model(inputs) * probe).sum(), [inputs, *model.parameters()])
    slow = torch.autograd.grad(
        (autograd_recurrence(model, inputs) * probe).sum(), [inputs, *model.parameters()]
    )
    names = ["inputs", *(name for name, _ in model.named_parameters())]
    for name, a, b in zip(names, fast, slow, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12, msg=name)


@pytest.mark.parametrize("parameterization", sorted(PARAMETERIZATIONS))
def test_registered_pullbacks_equal_autograd_of_the_eigenvalue_map(parameterization):
    """``g'(w) · grad`` where a form registers it, over a range that takes softplus past its linear threshold
    (to rounding: softplus's pullback is the logistic function, autograd's ``e^w/(e^w + 1)``)."""
    form = PARAMETERIZATIONS[parameterization]
    raw = torch.linspace(-30, 30, 241, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(241, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    (expected,) = torch.autograd.grad(form.eigenvalue_map(raw), raw, grad)
    pulled = form.pullback(raw.detach(), grad)
    torch.testing.assert_close(pulled, expected, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("parameterization", ["softplus", "exp", "best"])
def test_stable_forms_stay_positive_definite_under_any_raw_perturbation(parameterization):
    """g(w) > 0 for any raw w, so Ŵ = Pᵀ diag(g(w)) P stays positive definite whatever moves."""
    extreme = torch.linspace(-30, 30, 601, dtype=torch.float64)
    assert bool((PARAMETERIZATIONS[parameterization].eigenvalue_map(extreme) > 0).all())
    generator = torch.Generator().manual_seed(5)
    for scale in [0.1, 1.0, 3.0]:
        perturbed = RNN(8, "tanh", parameterization, seed=0)
        with torch.no_grad():
            for parameter in (perturbed.recurrent_raw, perturbed.rotation):
                noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
                parameter.add_(scale * noise)
            eigenvalues = torch.linalg.eigvalsh(perturbed.recurrent_matrix())
        assert bool((eigenvalues > 0).all()), (scale, eigenvalues.min())


def test_unstable_baselines_lose_definiteness_under_perturbation():
    """The baselines, perturbed as the authors do (w <- relu(w), then g(w) = w), have a negative
    eigenvalue after a small negative shift."""
    for parameterization in ["diagonal", "vanilla", "diagonal_projected", "vanilla_projected"]:
        model = RNN(8, "tanh", parameterization, seed=0).perturbation_model()
        with torch.no_grad():
            model.recurrent_raw.sub_(0.01)
        assert model.stability_margin().item() < 0


@pytest.mark.parametrize("parameterization", ["diagonal", "vanilla"])
def test_relu_baselines_freeze_their_negative_modes(parameterization):
    """The authors' relu baselines: a mode whose w starts negative gets no gradient and stays put, and
    its eigenvalue is exactly 0 (an integrator); the others train."""
    model = RNN(8, "tanh", parameterization, seed=2)
    frozen = model.recurrent_raw.detach() < 0
    assert 0 < int(frozen.sum()) < 8
    assert torch.equal(
        model.eigenvalues().detach()[frozen], torch.zeros(int(frozen.sum()), dtype=torch.float64)
    )
    before = model.recurrent_raw.detach().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    inputs = torch.randn(4, 30, 1, dtype=torch.float64)
    for _ in range(3):
        optimizer.zero_grad()
        model(inputs).pow(2).mean().backward()
        assert torch.equal(
            model.recurrent_raw.grad[frozen], torch.zeros(int(frozen.sum()), dtype=torch.float64)
        )
        optimizer.step()
    assert torch.equal(model.recurrent_raw.detach()[frozen], before[frozen])
    assert not torch.equal(model.recurrent_raw.detach()[~frozen], before[~frozen])


@pytest.mark.parametrize("parameterization", ["diagonal", "vanilla"])
def test_relu_baselines_are_perturbed_on_relu_w_with_identity_g(parameterization):
    model = RNN(6, "tanh", parameterization, seed=1)
    twin = model.perturbation_model()
    assert twin.parameterization == f"{parameterization}_projected"
    torch.testing.assert_close(twin.recurrent_raw, torch.relu(model.recurrent_raw))
    inputs = torch.randn(3, 25, 1, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(twin(inputs), model(inputs), rtol=0, atol=0)
    assert RNN(6, "tanh", "softplus").perturbation_model().parameterization == "softplus"


@pytest.mark.parametrize("parameterization", sorted(PARAMETERIZATIONS))
def test_stability_margin_is_the_smallest_eigenvalue(parameterization):
    model = RNN(7, "tanh", parameterization, seed=3)
    with torch.no_grad():
        if model.form.rotated:
            model.rotation.add_(0.3 * torch.randn(7, 7, dtype=torch.float64))
    expected = np.linalg.eigvals(model.recurrent_matrix().detach().numpy()).real.min()
    assert model.stability_margin().item() == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("parameterization", ["diagonal_projected", "vanilla_projected"])
def test_projection_keeps_baselines_nonnegative_and_training_moves_zero_modes(parameterization):
    model = RNN(6, "tanh", parameterization, seed=4)
    assert model.recurrent_raw.min().item() == 0.0  # projected at initialisation
    with torch.no_grad():
        model.recurrent_raw.sub_(1.0)
    model.project_()
    assert bool((model.recurrent_raw >= 0).all())
    model.recurrent_raw.grad = None
    model(torch.randn(2, 20, 1, dtype=torch.float64)).pow(2).mean().backward()
    assert bool((model.recurrent_raw.grad != 0).all())  # no dead gradient at w = 0, unlike relu


def test_projection_leaves_reparameterised_forms_alone():
    model = RNN(6, "tanh", "softplus", seed=4)
    before = model.recurrent_raw.detach().clone()
    assert bool((before < 0).any())
    model.project_()
    assert torch.equal(model.recurrent_raw.detach(), before)


def test_checkpoint_round_trip_preserves_outputs():
    model = RNN(5, "hardtanh", "diagonal", seed=6)
    rebuilt = model_from_payload(save_checkpoint_payload(model))
    inputs = torch.randn(2, 15, 1, dtype=torch.float64)
    torch.testing.assert_close(rebuilt(inputs), model(inputs))


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="width must be positive"):
        RNN(0)
    with pytest.raises(ValueError, match="allowed: .*tanh"):
        RNN(4, activation="sigmoid")
    with pytest.raises(ValueError, match="allowed: .*softplus"):
        RNN(4, parameterization="cayley")


GRADIENT_OVER_WEIGHT = {  # |g'(w)| / g(w)² in closed form
    "exp": lambda w: np.exp(-w),
    "softplus": lambda w: (1 / (1 + np.exp(-w))) / np.log1p(np.exp(w)) ** 2,
    "best": lambda w: 2 * np.abs(w),
    "inverse": lambda w: np.ones_like(w),
    "direct": lambda w: 1 / w**2,
}


@pytest.mark.parametrize("parameterization", sorted(GRADIENT_OVER_WEIGHT))
def test_gradient_over_weight_has_its_closed_form(parameterization, monkeypatch):
    model = RNN(6, "tanh", parameterization, seed=1)
    with torch.no_grad():
        model.recurrent_raw.copy_(torch.tensor([0.6, 0.8, 1.0, 1.5, 2.0, 3.0]))
    raw = model.recurrent_raw.detach().numpy()
    expected = GRADIENT_OVER_WEIGHT[parameterization](raw)
    assert np.allclose(model.gradient_over_weight().numpy(), expected, rtol=1e-12)
    statistics = model.gradient_over_weight_statistics()
    assert statistics["gradient_over_weight"] == pytest.approx(expected.max(), rel=1e-12)
    assert statistics["gradient_over_weight_median"] == pytest.approx(np.median(expected), rel=1e-12)
    assert statistics["stability_margin"] == pytest.approx(model.stability_margin().item())
    # without its registered pullback, autograd's g'(w) gives the same ratio
    form = PARAMETERIZATIONS[parameterization]
    monkeypatch.setitem(
        PARAMETERIZATIONS, parameterization, type(form)(form.eigenvalue_map, form.rotated, form.g_inverse)
    )
    plain = RNN(6, "tanh", parameterization, seed=1)
    plain.load_state_dict(model.state_dict())
    assert np.allclose(plain.gradient_over_weight().numpy(), expected, rtol=1e-12)


def test_gradient_over_weight_of_frozen_and_held_modes():
    """A relu baseline's frozen mode (g = g' = 0) has no ratio and is left out of the statistics; a projected
    mode held at 0 (g = 0, g' = 1) has an infinite one."""
    frozen = RNN(3, "tanh", "vanilla")
    with torch.no_grad():
        frozen.recurrent_raw.copy_(torch.tensor([-1.0, 0.5, 1.0]))
    ratios = frozen.gradient_over_weight()
    assert ratios[0].isnan() and ratios[1:].tolist() == [4.0, 1.0]
    statistics = frozen.gradient_over_weight_statistics()
    assert (statistics["gradient_over_weight"], statistics["gradient_over_weight_median"]) == (4.0, 2.5)
    held = RNN(3, "tanh", "vanilla_projected")
    with torch.no_grad():
        held.recurrent_raw.copy_(torch.tensor([0.0, 0.0, 1.0]))
    assert held.gradient_over_weight_statistics()["gradient_over_weight_median"] == np.inf
