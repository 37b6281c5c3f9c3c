"""The model's fast paths (compiled recurrence, convolution, ensembles) against its reference recurrence."""

import copy
import platform
import shutil
import sys

import pytest
import torch
from torch.func import functional_call

from curse_of_memory import recurrence
from curse_of_memory.loss import temporal_weights, weighted_mse
from curse_of_memory.models import ACTIVATIONS, PARAMETERIZATIONS, RNN, Parameterization
from curse_of_memory.training import TrainingSettings, train

NONLINEAR = sorted(set(ACTIVATIONS) - {"linear"})
needs_compiler = pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler on PATH")


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


@needs_compiler
def test_the_compiled_recurrence_builds_and_is_used():
    model = RNN(4, "tanh", "softplus")
    inputs = random_inputs(2, 5, 0)
    assert recurrence.compiled_library() is not None
    assert recurrence.available_for(inputs, *model.parameters())
    assert not recurrence.available_for(inputs.float())


@needs_compiler
@pytest.mark.parametrize("activation", NONLINEAR)
@pytest.mark.parametrize("parameterization", sorted(PARAMETERIZATIONS))
@pytest.mark.parametrize(("width", "batch"), [(3, 37), (8, 37), (13, 37), (13, 2)])
def test_compiled_forward_and_gradients_equal_the_reference_recurrence(
    activation, parameterization, width, batch
):
    """Batch 37 and widths 3/13 exercise the partial row block and the padded lanes; batch 2 a block
    shorter than one register block of rows."""
    model = RNN(width, activation, parameterization, dt=0.5, seed=width)
    inputs = random_inputs(batch, 60, width)
    fast = outputs_and_gradients(model, model, inputs)
    reference = outputs_and_gradients(model, model.reference_forward, inputs)
    assert_all_close(fast, reference, rtol=1e-10)


@needs_compiler
@pytest.mark.parametrize("activation", NONLINEAR)
@pytest.mark.parametrize("parameterization", ["diagonal", "vanilla"])
@pytest.mark.parametrize(("width", "batch"), [(3, 37), (16, 16), (13, 7), (64, 21)])
def test_an_evaluation_pass_gives_the_training_pass_s_outputs_bit_for_bit(
    activation, parameterization, width, batch
):
    """Without activations to keep, the compiled forward puts an item's rows in vector lanes; it must sum
    exactly as the training pass does. Batch 37: a partial group of lanes; 7: an item too short for it
    (the training pass's kernel); an ensemble of perturbed members covers the member offsets."""
    model = RNN(width, activation, parameterization, dt=0.6, seed=width)
    inputs = random_inputs(batch, 50, width)
    generator = torch.Generator().manual_seed(width)
    stacked = {
        name: torch.stack(
            [
                p.detach() + 0.3 * k * torch.randn(p.shape, generator=generator, dtype=p.dtype)
                for k in range(3)
            ]
        )
        for name, p in model.named_parameters()
    }
    with torch.no_grad():
        evaluated = functional_call(model, stacked, (inputs,))
    trained = functional_call(
        model, {name: value.requires_grad_() for name, value in stacked.items()}, (inputs,)
    )
    assert trained.requires_grad
    assert torch.equal(evaluated, trained.detach())


@pytest.mark.parametrize("parameterization", sorted(PARAMETERIZATIONS))
@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(("batch", "length"), [(9, 70), (37, 5), (2, 41)])
def test_linear_convolution_equals_the_reference_recurrence(
    parameterization, compiled, batch, length, monkeypatch
):
    """The compiled convolution and its backward (kernels from the compiled impulse responses), or the
    kernel from powers by doubling (CUDA's way). Batches 9/37/2 leave partial groups of rows; lengths
    70/5/41 partial lanes of time, and 70 more than one block of 32 lags."""
    if not compiled:
        monkeypatch.setattr(recurrence, "available_for", lambda *tensors: False)
    model = RNN(7, "linear", parameterization, dt=0.3, seed=3)
    inputs = random_inputs(batch, length, 1)
    fast = outputs_and_gradients(model, model, inputs)
    reference = outputs_and_gradients(model, model.reference_forward, inputs)
    assert_all_close(fast, reference, rtol=1e-10)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("parameterization", ["diagonal", "softplus"])
@pytest.mark.parametrize("compiled", [True, False])
def test_an_ensemble_evaluates_each_member_with_its_own_parameters(
    activation, parameterization, compiled, monkeypatch
):
    if not compiled:  # the per-step torch loop (CUDA's path) takes ensembles too
        monkeypatch.setattr(recurrence, "available_for", lambda *tensors: False)
    model = RNN(6, activation, parameterization, seed=1)
    generator = torch.Generator().manual_seed(2)
    stacked = {
        name: torch.stack(
            [
                p.detach() + 0.05 * k * torch.randn(p.shape, generator=generator, dtype=p.dtype)
                for k in range(3)
            ]
        )
        for name, p in model.named_parameters()
    }
    inputs = random_inputs(20, 30, 3)
    together = functional_call(model, stacked, (inputs,))
    assert together.shape == (3, 20, 30, 1)
    for member in range(3):
        alone = functional_call(model, {name: value[member] for name, value in stacked.items()}, (inputs,))
        torch.testing.assert_close(together[member], alone, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", NONLINEAR)
@pytest.mark.parametrize("parameterization", ["diagonal", "softplus"])
@pytest.mark.parametrize("members", [1, 3])
def test_the_stepped_loop_autograd_differentiates_equals_the_reference_recurrence(
    activation, parameterization, members, monkeypatch
):
    """Where the compiled recurrence does not run (CUDA), training differentiates the three-op-per-step
    loop: its outputs and gradients, of a single model and of an ensemble, are the reference's."""
    monkeypatch.setattr(recurrence, "available_for", lambda *tensors: False)
    model = RNN(9, activation, parameterization, dt=0.4, seed=members)
    generator = torch.Generator().manual_seed(members)
    stacked = {
        name: torch.stack(
            [
                p.detach() + 0.1 * k * torch.randn(p.shape, generator=generator, dtype=p.dtype)
                for k in range(members)
            ]
        ).requires_grad_()
        for name, p in model.named_parameters()
    }
    inputs = random_inputs(11, 40, members)
    probe = torch.randn(members, 11, 40, 1, dtype=torch.float64, generator=generator)

    def outputs_and_gradients_of_the_members() -> list[torch.Tensor]:
        outputs = functional_call(model, stacked, (inputs,))
        return [outputs.detach(), *torch.autograd.grad((outputs * probe).sum(), list(stacked.values()))]

    stepped = outputs_and_gradients_of_the_members()
    monkeypatch.setattr(RNN, "forward", RNN.reference_forward)
    reference = outputs_and_gradients_of_the_members()
    assert not torch.equal(stepped[0], reference[0])  # another summation order: the other path ran
    assert_all_close(stepped, reference, rtol=1e-12)


@needs_compiler
@pytest.mark.parametrize("activation", ["tanh", "linear"])
def test_results_do_not_depend_on_the_number_of_threads(activation):
    model = RNN(12, activation, "vanilla", seed=4)
    inputs = random_inputs(70, 40, 4)
    threads = torch.get_num_threads()
    try:
        results = []
        for count in (1, 3):
            torch.set_num_threads(count)
            results.append(outputs_and_gradients(model, model, inputs))
    finally:
        torch.set_num_threads(threads)
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


@needs_compiler
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


@needs_compiler
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
    form = Parameterization(lambda w: w * w + 0.1, rotated=True)
    monkeypatch.setitem(PARAMETERIZATIONS, request.param, form)
    return request.param


@needs_compiler
@pytest.mark.parametrize("activation", sorted(recurrence.ACTIVATION_CODES))
@pytest.mark.parametrize("margin_gradient", [0.7, 0.0])
def test_the_loss_and_backward_pass_equal_autograd_of_the_reference_loss_and_the_margin(
    activation, parameterization, margin_gradient
):
    """The training step's loss and closed-form gradients: the weighted MSE of the reference outputs, and
    ∂/∂θ of it + margin_gradient · margin by autograd through the reference recurrence and eigvalsh,
    each in its parameter's layout (the fused optimiser reads gradient and parameter as flat arrays
    alike), replacing any earlier, at two steps (the second reuses the first's gradient tensors). The
    baselines' three ``w`` projected to 0 give a triple smallest eigenvalue: the margin's subgradient is
    autograd's there too."""
    model = RNN(7, activation, parameterization, dt=0.5, seed=3)
    with torch.no_grad():
        model.recurrent_raw.add_(0.2)  # keep the baselines' eigenvalues off the projection boundary
    inputs, weights = random_inputs(19, 40, 4), temporal_weights(40, 0.5)
    for parameter in model.parameters():
        parameter.grad = torch.full_like(parameter, 5.0)
    for seed in (6, 7):
        targets = random_inputs(19, 40, seed)
        loss, backward = model.loss_and_backward(inputs, targets, weights * weights)
        margins = []
        backward(lambda margin, margins=margins: margins.append(margin) or margin_gradient)
        reference = weighted_mse(model.reference_forward(inputs), targets, weights)
        penalty = margin_gradient * model.stability_margin()
        expected = torch.autograd.grad(reference + penalty, [*model.parameters()])
        assert loss == pytest.approx(reference.item(), rel=1e-12)
        assert margins == [pytest.approx(model.stability_margin().item(), abs=1e-12)]
        for (name, parameter), reference in zip(model.named_parameters(), expected, strict=True):
            torch.testing.assert_close(parameter.grad, reference, rtol=1e-9, atol=1e-12, msg=name)
            assert parameter.grad.stride() == parameter.stride(), name


@needs_compiler
@pytest.mark.parametrize("width", [1, 7, 64])
def test_the_smallest_eigenpair_is_torch_eigh_s_bit_for_bit_also_at_a_repeated_eigenvalue(width, monkeypatch):
    """The direct LAPACK call gives eigh's smallest eigenvalue and vector exactly (the lower triangle read,
    as eigh reads it), at a triple smallest eigenvalue too, where any unit vector of the eigenspace would
    do; without torch's LAPACK, eigh itself."""
    generator = torch.Generator().manual_seed(width)
    rotation = torch.linalg.qr(torch.randn(width, width, dtype=torch.float64, generator=generator))[0]
    spread = torch.rand(width, dtype=torch.float64, generator=generator) + 0.3
    tied = torch.cat([torch.full((min(3, width),), 0.2, dtype=torch.float64), spread[3:]])
    for eigenvalues in (spread, tied):
        matrix = rotation.mT @ (eigenvalues[:, None] * rotation)
        matrix[0, -1] += 0.01  # only the lower triangle counts
        values, vectors = torch.linalg.eigh(matrix)
        value, vector = recurrence.smallest_eigenpair(matrix)
        assert value == values[0].item()
        assert torch.equal(vector, vectors[:, 0])
    if sys.platform == "linux" and platform.machine() == "x86_64":  # torch's wheels link MKL's LAPACK in
        assert recurrence._lapack_eigensolver() is not None
    monkeypatch.setattr(recurrence, "_lapack_eigensolver", lambda: None)
    value, vector = recurrence.smallest_eigenpair(matrix)
    assert value == values[0].item()
    assert torch.equal(vector, vectors[:, 0])


@needs_compiler
def test_the_rotated_pullback_equals_autograd_of_the_feedback_matrix():
    """∂/∂(P, g) of ⟨G, Pᵀ diag(g) P⟩ + slope vᵀ (Pᵀ diag(g) P) v, for a column-major P as QR leaves it."""
    generator = torch.Generator().manual_seed(2)
    square, grad_feedback = (torch.randn(6, 6, dtype=torch.float64, generator=generator) for _ in range(2))
    rotation = torch.linalg.qr(square)[0].requires_grad_()
    eigenvalues, vector = (torch.rand(6, dtype=torch.float64, generator=generator) for _ in range(2))
    eigenvalues.requires_grad_()
    feedback = rotation.mT @ (eigenvalues[:, None] * rotation)
    objective = (grad_feedback * feedback).sum() - 0.3 * vector @ feedback @ vector
    expected = torch.autograd.grad(objective, [rotation, eigenvalues])
    grad_rotation, grad_eigenvalues = torch.empty_like(rotation), torch.empty_like(eigenvalues)
    assert grad_rotation.stride() == (1, 6)
    fixed = (rotation.detach(), eigenvalues.detach(), grad_feedback, -0.3, vector)
    recurrence.rotated_pullback(*fixed, grad_rotation, grad_eigenvalues)
    torch.testing.assert_close(grad_rotation, expected[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad_eigenvalues, expected[1], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="laid out as P"):
        recurrence.rotated_pullback(*fixed, grad_rotation.contiguous(), grad_eigenvalues)


@needs_compiler
def test_the_pullback_writes_into_a_given_tensor_of_its_shape_only():
    model = RNN(3, "linear", "diagonal")
    inputs, probe = random_inputs(2, 5, 0), torch.ones(2, 5, 1, dtype=torch.float64)
    parameters = model._recurrence_parameters()
    pullbacks = [recurrence.outputs_and_pullback(inputs, parameters, 1.0, "linear")[1] for _ in range(3)]
    rows = torch.empty(1, 13, dtype=torch.float64)
    with torch.no_grad():
        assert pullbacks[0](probe, rows) is rows
        torch.testing.assert_close(rows, pullbacks[1](probe))
        with pytest.raises(ValueError, match=r"\(1, 13\)"):
            pullbacks[2](probe, torch.empty(1, 12, dtype=torch.float64))


def test_there_is_no_closed_form_backward_for_an_ensemble_or_off_the_compiled_path(monkeypatch):
    model = RNN(4, "tanh", "softplus")
    stacked = {name: torch.stack([p.detach()] * 3) for name, p in model.named_parameters()}
    ensemble = copy.deepcopy(model)
    for name, values in stacked.items():
        setattr(ensemble, name, torch.nn.Parameter(values))
    inputs, weights = random_inputs(2, 5, 0), torch.ones(5, dtype=torch.float64)
    assert ensemble.loss_and_backward(inputs, inputs, weights) is None
    assert model.loss_and_backward(inputs, inputs.float(), weights) is None
    monkeypatch.setattr(recurrence, "available_for", lambda *tensors: False)
    assert model.loss_and_backward(inputs, inputs, weights) is None


@needs_compiler
def test_a_second_backward_through_the_same_graph_is_refused():
    model = RNN(4, "tanh", "softplus")
    loss = model(random_inputs(3, 10, 0)).pow(2).sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="released"):
        loss.backward()


@needs_compiler
def test_training_follows_the_same_path_as_with_the_reference_recurrence(monkeypatch):
    """A few epochs with the compiled recurrence and with the per-step loop: the same losses."""
    inputs, targets = random_inputs(96, 25, 6), 0.5 * random_inputs(96, 25, 7)
    splits = {"train": (inputs[:64], targets[:64]), "validation": (inputs[64:], targets[64:])}
    settings = TrainingSettings(batch_size=16, max_epochs=3, learning_rate=0.003)
    model = RNN(6, "tanh", "softplus", seed=2)
    histories = []
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(recurrence, "available_for", lambda *tensors: False)
        result = train(copy.deepcopy(model), splits, settings, seed=0)
        histories.append([row["validation_loss"] for row in result.history])
    assert histories[0] == pytest.approx(histories[1], rel=1e-9)


def test_without_a_compiler_the_model_falls_back_to_the_reference(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("CC", "no-such-compiler")
    monkeypatch.setenv("CURSE_OF_MEMORY_CACHE", str(tmp_path))
    recurrence.compiled_library.cache_clear()
    try:
        assert recurrence.compiled_library() is None
        assert "per-step torch loop" in caplog.text
        model = RNN(4, "tanh", "softplus")
        inputs = random_inputs(3, 12, 1)
        with torch.no_grad():
            torch.testing.assert_close(model(inputs), model.reference_forward(inputs), rtol=0, atol=0)
    finally:
        recurrence.compiled_library.cache_clear()


@needs_compiler
def test_the_compiled_tanh_is_within_a_few_ulp_of_torch():
    """A width-1 model reads tanh(x) off its first output (U = c = 1, b = c0 = 0, h_0 = 0)."""
    magnitudes = torch.logspace(-300, 2, 3000, dtype=torch.float64)
    special = [0.0, 20.0, 1e300, -1e300, float("inf"), -float("inf"), float("nan")]
    x = torch.cat([magnitudes, -magnitudes, torch.tensor(special, dtype=torch.float64)])
    model = RNN(1, "tanh", "diagonal")
    with torch.no_grad():
        for parameter, value in [("input_weight", 1.0), ("input_bias", 0.0), ("output_weight", 1.0)]:
            getattr(model, parameter).fill_(value)
        model.output_bias.zero_()
        values = model(x[:, None, None])[:, 0, 0]
    expected = torch.tanh(x)
    torch.testing.assert_close(values, expected, rtol=4 * 2.2e-16, atol=0, equal_nan=True)


def test_an_activation_unknown_to_the_compiled_recurrence_runs_the_reference(monkeypatch):
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
