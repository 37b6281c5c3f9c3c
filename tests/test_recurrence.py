"""The model's fast paths (the stepped recurrence and its hand-derived backward, the convolution, ensembles)
against its reference recurrence."""

import copy
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from torch.func import functional_call

from curse_of_memory import models, recurrence
from curse_of_memory.loss import temporal_weights, weighted_mse
from curse_of_memory.models import ACTIVATIONS, MARGINS, PARAMETERIZATIONS, RNN, Parameterization
from curse_of_memory.training import TrainingSettings, train

from . import cpu_classes

NONLINEAR = sorted(recurrence.STEPPED)


def random_inputs(batch: int, length: int, seed: int) -> torch.Tensor:
    return torch.randn(batch, length, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def outputs_and_gradients(model: RNN, forward, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Outputs and the gradients of a random projection of them with respect to every parameter."""
    outputs = forward(inputs)
    probe = torch.randn(outputs.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    return [outputs.detach(), *torch.autograd.grad((outputs * probe).sum(), list(model.parameters()))]


def assert_all_close(fast: list[torch.Tensor], reference: list[torch.Tensor], rtol: float) -> None:
    for a, b in zip(fast, reference, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol * float(b.abs().max()))


def perturbed_stack(model: RNN, members: int, scale: float, seed: int) -> dict[str, torch.Tensor]:
    """Each parameter stacked ``members`` times, member k perturbed by ``scale · k`` times noise."""
    generator = torch.Generator().manual_seed(seed)
    return {
        name: torch.stack(
            [
                p.detach() + scale * k * torch.randn(p.shape, generator=generator, dtype=p.dtype)
                for k in range(members)
            ]
        )
        for name, p in model.named_parameters()
    }


@pytest.fixture(params=["one block", "blocks of a few steps", "rows in chunks"])
def blocks(request, monkeypatch) -> str:
    """The default blocking (small problems: one block of steps, one chunk of members), blocks of a few
    steps and members, and chunks smaller than the batch (one step per block, a few rows per chunk):
    the sums and the outputs must cross every boundary."""
    monkeypatch.setattr(
        recurrence,
        "CHUNK_ELEMENTS",
        {"one block": recurrence.CHUNK_ELEMENTS, "blocks of a few steps": 600, "rows in chunks": 40}[
            request.param
        ],
    )
    return request.param


@pytest.mark.parametrize("activation", NONLINEAR)
@pytest.mark.parametrize("parameterization", sorted(PARAMETERIZATIONS))
@pytest.mark.parametrize(("width", "batch"), [(3, 37), (13, 2)])
def test_stepped_forward_and_gradients_equal_the_reference_recurrence(
    activation, parameterization, width, batch, blocks
):
    model = RNN(width, activation, parameterization, dt=0.5, seed=width)
    inputs = random_inputs(batch, 60, width)
    fast = outputs_and_gradients(model, model, inputs)
    reference = outputs_and_gradients(model, model.reference_forward, inputs)
    assert_all_close(fast, reference, rtol=1e-10)


@pytest.mark.parametrize("activation", NONLINEAR)
@pytest.mark.parametrize("parameterization", ["diagonal", "vanilla"])
def test_an_evaluation_pass_gives_the_training_pass_s_outputs(activation, parameterization, blocks):
    """The forward pass that keeps one step's state (evaluation, perturbation: members and rows in chunks)
    and the one that keeps them all (training), on an ensemble of perturbed members."""
    model = RNN(16, activation, parameterization, dt=0.6, seed=3)
    inputs = random_inputs(21, 50, 3)
    stacked = perturbed_stack(model, 3, 0.3, seed=3)
    with torch.no_grad():
        evaluated = functional_call(model, stacked, (inputs,))
    trained = functional_call(
        model, {name: value.requires_grad_() for name, value in stacked.items()}, (inputs,)
    )
    assert trained.requires_grad
    torch.testing.assert_close(evaluated, trained.detach(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("parameterization", sorted(PARAMETERIZATIONS))
@pytest.mark.parametrize(("batch", "length"), [(9, 70), (37, 5), (2, 41)])
def test_linear_convolution_equals_the_reference_recurrence(parameterization, batch, length):
    """The kernel from powers by doubling (lengths 70/5/41: powers past, below and between powers of 2)."""
    model = RNN(7, "linear", parameterization, dt=0.3, seed=3)
    inputs = random_inputs(batch, length, 1)
    fast = outputs_and_gradients(model, model, inputs)
    reference = outputs_and_gradients(model, model.reference_forward, inputs)
    assert_all_close(fast, reference, rtol=1e-10)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("parameterization", ["diagonal", "softplus"])
@pytest.mark.parametrize("stepped", [True, False])
def test_an_ensemble_evaluates_each_member_with_its_own_parameters(
    activation, parameterization, stepped, monkeypatch
):
    if not stepped:  # the per-step torch loop (CUDA's path) takes ensembles too
        monkeypatch.setattr(RNN, "_stepped_for", lambda self, inputs: False)
    model = RNN(6, activation, parameterization, seed=1)
    stacked = perturbed_stack(model, 3, 0.05, seed=2)
    inputs = random_inputs(20, 30, 3)
    together = functional_call(model, stacked, (inputs,))
    assert together.shape == (3, 20, 30, 1)
    for member in range(3):
        alone = functional_call(model, {name: value[member] for name, value in stacked.items()}, (inputs,))
        torch.testing.assert_close(together[member], alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", NONLINEAR)
@pytest.mark.parametrize("parameterization", ["diagonal", "softplus"])
@pytest.mark.parametrize("members", [1, 3])
def test_ensemble_gradients_of_both_stepped_paths_equal_the_reference_recurrence(
    activation, parameterization, members, monkeypatch
):
    """The hand-derived backward and, where it does not run (CUDA), autograd of the three-op-per-step loop:
    outputs and gradients of a single model and of an ensemble are the reference's."""
    model = RNN(9, activation, parameterization, dt=0.4, seed=members)
    stacked = {
        name: value.requires_grad_() for name, value in perturbed_stack(model, members, 0.1, members).items()
    }
    inputs = random_inputs(11, 40, members)
    probe = torch.randn(
        members, 11, 40, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(members)
    )

    def outputs_and_gradients_of_the_members() -> list[torch.Tensor]:
        outputs = functional_call(model, stacked, (inputs,))
        return [outputs.detach(), *torch.autograd.grad((outputs * probe).sum(), list(stacked.values()))]

    hand_derived = outputs_and_gradients_of_the_members()
    monkeypatch.setattr(RNN, "_stepped_for", lambda self, inputs: False)
    stepped = outputs_and_gradients_of_the_members()
    monkeypatch.setattr(RNN, "forward", RNN.reference_forward)
    reference = outputs_and_gradients_of_the_members()
    assert not torch.equal(stepped[0], reference[0])  # another summation order: the other path ran
    assert_all_close(hand_derived, reference, rtol=1e-12)
    assert_all_close(stepped, reference, rtol=1e-12)


def test_an_exploding_relu_model_is_non_finite_exactly_where_the_reference_is():
    """Only relu can overflow (bounded σ moves h by at most dt per step): |1 − dt λ| = 41 here."""
    model = RNN(5, "relu", "vanilla_projected", dt=1.0, seed=0)
    with torch.no_grad():
        model.recurrent_raw.fill_(-40.0)
        model.input_bias.fill_(1.0)
    inputs = random_inputs(4, 400, 0)
    with torch.no_grad():
        fast, reference = model(inputs), model.reference_forward(inputs)
    assert not bool(torch.isfinite(reference).all())
    assert torch.equal(torch.isfinite(fast), torch.isfinite(reference))
    assert torch.equal(fast.isnan(), reference.isnan())


@pytest.mark.parametrize("activation", NONLINEAR)
def test_a_nan_parameter_propagates_as_in_the_reference(activation):
    """σ(NaN) is NaN in torch for every activation (a relu written as max(0, x) would hide it)."""
    model = RNN(5, activation, "softplus", seed=0)
    with torch.no_grad():
        model.input_bias[2] = float("nan")
    inputs = random_inputs(3, 20, 0)
    with torch.no_grad():
        fast, reference = model(inputs), model.reference_forward(inputs)
    assert bool(reference.isnan().all())
    assert bool(fast.isnan().all())


@pytest.fixture(params=[*sorted(PARAMETERIZATIONS), "unregistered pullback"])
def parameterization(request, monkeypatch) -> str:
    """Every registered form, and one registered without a pullback (its backward pass differentiates ``g``
    by autograd)."""
    if request.param in PARAMETERIZATIONS:
        return request.param
    form = Parameterization(lambda w: w * w + 0.1, rotated=True, g_inverse=lambda v: torch.sqrt(v - 0.1))
    monkeypatch.setitem(PARAMETERIZATIONS, request.param, form)
    return request.param


@pytest.mark.parametrize("activation", NONLINEAR)
@pytest.mark.parametrize("margin_gradient", [0.7, 0.0])
@pytest.mark.parametrize("margin", MARGINS)
def test_the_loss_and_backward_pass_equal_autograd_of_the_reference_loss_and_the_margin(
    activation, parameterization, margin_gradient, margin
):
    """The training step's loss and closed-form gradients: the weighted MSE of the reference outputs, and
    ∂/∂θ of it + margin_gradient · margin (either kind) by autograd through the reference recurrence and
    eigvalsh or the positive modes, replacing any earlier, at two steps. The baselines' three ``w``
    projected to 0 give a triple smallest eigenvalue: the margin's subgradient is autograd's there too;
    the relu baselines' negative ``w`` are frozen modes, which the smallest positive mode reads past."""
    model = RNN(7, activation, parameterization, dt=0.5, seed=3)
    with torch.no_grad():
        model.recurrent_raw.add_(0.2)  # keep the baselines' eigenvalues off the projection boundary
    inputs, weights = random_inputs(19, 40, 4), temporal_weights(40, 0.5)
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 5.0)
    for seed in (6, 7):
        targets = random_inputs(19, 40, seed)
        loss, backward = model.loss_and_backward(inputs, targets, weights * weights, margin)
        margins = []
        backward(lambda value, margins=margins: margins.append(value) or margin_gradient)
        reference = weighted_mse(model.reference_forward(inputs), targets, weights)
        penalty = margin_gradient * model.margin(margin)
        expected = torch.autograd.grad(reference + penalty, [*model.parameters()])
        assert loss == pytest.approx(reference.item(), rel=1e-12)
        assert margins == [pytest.approx(model.margin(margin).item(), abs=1e-12)]
        for (name, parameter), reference in zip(model.named_parameters(), expected, strict=True):
            torch.testing.assert_close(parameter.grad, reference, rtol=1e-9, atol=1e-12, msg=name)
            assert parameter.grad.shape == parameter.shape, name


def test_the_rotated_pullback_equals_autograd_of_the_w_hat_matrix():
    """∂/∂(P, g) of ⟨G, Pᵀ diag(g) P⟩ + slope vᵀ (Pᵀ diag(g) P) v."""
    generator = torch.Generator().manual_seed(2)
    square, grad_w_hat = (torch.randn(6, 6, dtype=torch.float64, generator=generator) for _ in range(2))
    rotation = torch.linalg.qr(square)[0].requires_grad_()
    eigenvalues, vector = (torch.rand(6, dtype=torch.float64, generator=generator) for _ in range(2))
    eigenvalues.requires_grad_()
    w_hat = rotation.mT @ (eigenvalues[:, None] * rotation)
    objective = (grad_w_hat * w_hat).sum() - 0.3 * vector @ w_hat @ vector
    expected = torch.autograd.grad(objective, [rotation, eigenvalues])
    fixed = (rotation.detach(), eigenvalues.detach(), grad_w_hat, -0.3, vector)
    grad_rotation, grad_eigenvalues = models.rotated_pullback(*fixed)
    torch.testing.assert_close(grad_rotation, expected[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_eigenvalues, expected[1], rtol=1e-12, atol=1e-12)


def test_there_is_no_closed_form_backward_for_an_ensemble_the_convolution_or_off_the_stepped_path(
    monkeypatch,
):
    model = RNN(4, "tanh", "softplus")
    stacked = {name: torch.stack([p.detach()] * 3) for name, p in model.named_parameters()}
    ensemble = copy.deepcopy(model)
    for name, values in stacked.items():
        setattr(ensemble, name, torch.nn.Parameter(values))
    inputs, weights = random_inputs(2, 5, 0), torch.ones(5, dtype=torch.float64)
    assert model.loss_and_backward(inputs, inputs, weights) is not None
    assert ensemble.loss_and_backward(inputs, inputs, weights) is None
    assert RNN(4, "linear", "softplus").loss_and_backward(inputs, inputs, weights) is None
    monkeypatch.setattr(RNN, "_stepped_for", lambda self, inputs: False)
    assert model.loss_and_backward(inputs, inputs, weights) is None


def test_a_second_backward_through_the_same_graph_is_refused():
    model = RNN(4, "tanh", "softplus")
    loss = model(random_inputs(3, 10, 0)).pow(2).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="released"):
        loss.backward()


def test_training_follows_the_same_path_as_with_the_reference_recurrence(monkeypatch):
    """A few epochs with the hand-derived backward and with autograd of the reference loop: the same
    losses."""
    inputs, targets = random_inputs(96, 25, 6), 0.5 * random_inputs(96, 25, 7)
    splits = {"train": (inputs[:64], targets[:64]), "validation": (inputs[64:], targets[64:])}
    settings = TrainingSettings(batch_size=16, max_epochs=3, learning_rate=0.003)
    model = RNN(6, "tanh", "softplus", seed=2)
    histories = []
    for hand_derived in (True, False):
        if not hand_derived:
            monkeypatch.setattr(RNN, "_stepped_for", lambda self, inputs: False)
            monkeypatch.setattr(RNN, "forward", RNN.reference_forward)
        result = train(copy.deepcopy(model), splits, settings, seed=0)
        histories.append([row["validation_loss"] for row in result.history])
    assert histories[0] == pytest.approx(histories[1], rel=1e-9)


def test_an_activation_unknown_to_the_stepped_recurrence_runs_the_reference(monkeypatch):
    monkeypatch.setitem(ACTIVATIONS, "softsign", torch.nn.functional.softsign)
    model = RNN(4, "softsign", "softplus")
    inputs = random_inputs(3, 12, 2)
    with torch.no_grad():
        torch.testing.assert_close(model(inputs), model.reference_forward(inputs), rtol=0, atol=0)
    assert_all_close(
        outputs_and_gradients(model, model, inputs),
        outputs_and_gradients(model, model.reference_forward, inputs),
        1e-12,
    )


#: A child process's check of every fast path against the reference, under the kernels it is given.
BUILD_CHECK = textwrap.dedent(
    """
    import sys, torch
    from curse_of_memory.models import PARAMETERIZATIONS, RNN
    from curse_of_memory.models import ACTIVATIONS
    from curse_of_memory.loss import weighted_mse
    print(torch.backends.cpu.get_cpu_capability())
    inputs = torch.randn(13, 30, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    worst = 0.0
    for activation in ACTIVATIONS:
        for parameterization in PARAMETERIZATIONS:
            model = RNN(5, activation, parameterization, dt=0.5, seed=1)
            results = []
            for forward in (model, model.reference_forward):
                outputs = forward(inputs)
                results.append([outputs, *torch.autograd.grad(weighted_mse(outputs, inputs, torch.ones(30,
                    dtype=torch.float64)), list(model.parameters()))])
            for fast, reference in zip(*results):
                scale = reference.abs().max().clamp(min=1e-300)
                worst = max(worst, float((fast - reference).abs().max() / scale))
    print(worst)
    """
)


@pytest.mark.parametrize("capability", cpu_classes.FORCIBLE)
def test_every_kernel_build_torch_dispatches_to_on_this_cpu_equals_the_reference(capability):
    """torch picks its vectorised kernels per CPU (``ATEN_CPU_CAPABILITY`` forces a class): every class
    this CPU can run gives the reference's outputs and gradients on every activation and parameterisation.
    A class the CPU lacks is skipped before it is forced (torch would run it and die of SIGILL); a child
    that dies on a class the CPU reports it has fails the test."""
    reason = cpu_classes.why_not_runnable(capability)
    if reason is not None:
        pytest.skip(reason)
    environment = {**os.environ, "ATEN_CPU_CAPABILITY": capability}
    completed = subprocess.run(
        [sys.executable, "-c", BUILD_CHECK], env=environment, capture_output=True, text=True
    )
    assert completed.returncode == 0, f"{capability} exited with {completed.returncode}: {completed.stderr}"
    used, worst = completed.stdout.split()
    if used.lower() != capability:
        pytest.skip(f"this torch build has no {capability} kernels for this CPU: it ran {used}")
    assert float(worst) < 1e-10
