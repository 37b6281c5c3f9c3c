"""Speed of the model's training step and perturbation-error evaluation against plain per-step loops.

Training: one full step (forward, backward, AdamW, clipping, projection; the project's
``training_step``) of :class:`curse_of_memory.models.RNN` against the same step driven by plain
per-step autograd loops of the same recurrence over the same parameters, written here: a lean loop
(``Ŵ`` built once per forward; the headline ratio) and a transcription of how the authors' code
steps it (``g(w)`` recomputed and ``P`` applied twice at every step, as in
radarFudan/Curse-of-memory's ``SoftplusRNN``/``SimpleRNN``/``SimpleDiagonalRNN``). Widths ×
activations × parameterisations at batch 512, T = 100, float64. Outputs and gradients of both loops
are first checked to agree with the model's to 1e-9 relative (the model's as its training step takes
them: the hand-derived backward pass of :meth:`RNN.loss_and_backward` where it runs).

Perturbation: :func:`curse_of_memory.perturbation.perturbation_errors` (all (β, draw) pairs of a
model stacked into ensemble forwards) against one forward pass per (β, draw), with the config's
β grid, draws and evaluation size, for a tanh softplus model at each width; the baseline is run with
both loops and with the model's own forward, which separates batching from the faster recurrence.

    python benchmarks/recurrence.py            # the full grid (a few minutes)
    python benchmarks/recurrence.py --quick    # widths 8 and 64, fewer repeats

The last line is ``median speedup: <x>`` over the training cells, against the lean loop.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from curse_of_memory.config import load_config
from curse_of_memory.loss import weighted_mse
from curse_of_memory.models import ACTIVATIONS, RNN
from curse_of_memory.perturbation import fixed_set_loss, noise_directions, perturbation_errors
from curse_of_memory.stability import beta_grid
from curse_of_memory.training import TrainingSettings, loss_and_backward, make_optimizer, training_step

WIDTHS = (8, 16, 32, 64)
QUICK_WIDTHS = (8, 64)
ACTIVATION_NAMES = ("linear", "tanh", "hardtanh")
PARAMETERIZATIONS = ("diagonal", "vanilla", "softplus")
TOLERANCE = 1e-9
CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def per_step_loop(model: RNN) -> Callable[[Tensor], Tensor]:
    """The recurrence as a plain per-step autograd loop over ``model``'s parameters (the baseline)."""
    sigma = ACTIVATIONS[model.activation]

    def forward(inputs: Tensor) -> Tensor:
        diagonal = None if model.form.rotated else model.eigenvalues()
        matrix = model.recurrent_matrix() if model.form.rotated else None
        hidden = inputs.new_zeros(inputs.shape[0], model.width)
        outputs = []
        for k in range(inputs.shape[1]):
            w_hat = hidden * diagonal if matrix is None else hidden @ matrix
            drive = inputs[:, k] * model.input_weight + model.input_bias
            hidden = hidden + model.dt * sigma(drive - w_hat)
            outputs.append(hidden @ model.output_weight + model.output_bias)
        return torch.stack(outputs, dim=1)[..., None]

    return forward


def authors_loop(model: RNN) -> Callable[[Tensor], Tensor]:
    """The recurrence stepped as the authors' code steps it: the encoder over the whole sequence, then
    at every step ``g(w)`` recomputed and, when rotated, ``h Ŵ`` as ``((h Pᵀ) ⊙ g(w)) P`` (two
    products); the states concatenated and decoded at the end."""
    sigma = ACTIVATIONS[model.activation]

    def forward(inputs: Tensor) -> Tensor:
        encoded = inputs * model.input_weight + model.input_bias  # (batch, time, width)
        states = [inputs.new_zeros(1, 1, model.width)]
        for k in range(inputs.shape[1]):
            hidden = states[-1]
            if model.form.rotated:
                rotated = F.linear(hidden, model.rotation) * model.eigenvalues()
                w_hat = F.linear(rotated, model.rotation.t())
            else:
                w_hat = hidden * model.eigenvalues()
            states.append(hidden + model.dt * sigma(encoded[:, k : k + 1] - w_hat))
        return (torch.cat(states[1:], dim=1) @ model.output_weight + model.output_bias)[..., None]

    return forward


def relative_difference(a: Tensor, b: Tensor) -> float:
    """``max|a − b| / max|b|`` (0 when both vanish)."""
    scale = float(b.abs().max())
    return float((a - b).abs().max()) / scale if scale > 0 else float((a - b).abs().max())


def model_gradients(model: RNN, inputs: Tensor, targets: Tensor, weights: Tensor) -> tuple[Tensor, ...]:
    """Outputs and loss gradients as the timed training step takes them (``training.loss_and_backward``:
    the hand-derived backward pass where it runs, else autograd), without the margin penalty."""
    model.zero_grad(set_to_none=True)
    settings = TrainingSettings(margin_penalty_coefficient=0.0)
    loss_and_backward(model, inputs, targets, weights, settings)[1](lambda margin: 0.0)
    gradients = tuple(parameter.grad.clone() for parameter in model.parameters())
    model.zero_grad(set_to_none=True)
    with torch.no_grad():
        return model(inputs), *gradients


def check_agreement(model: RNN, inputs: Tensor, targets: Tensor, weights: Tensor) -> float:
    """The largest relative difference of outputs and parameter gradients between the model's training
    path and each loop's."""
    parameters = list(model.parameters())
    results = [model_gradients(model, inputs, targets, weights)]
    for forward in (per_step_loop(model), authors_loop(model)):
        outputs = forward(inputs)
        gradients = torch.autograd.grad(weighted_mse(outputs, targets, weights), parameters)
        results.append((outputs.detach(), *gradients))
    return max(
        relative_difference(a, b) for loop in results[1:] for a, b in zip(results[0], loop, strict=True)
    )


#: Seconds each timing first runs untimed (at least one call) and then at least spends timed: a fast
#: training step reaches its steady state (allocations pooled, caches warm) only after some calls.
WARM_UP, TIMED = 0.1, 0.1


def median_time(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``run()`` over at least ``repeats`` calls (more while they take under ``TIMED``
    seconds in all), after calls for ``WARM_UP`` seconds (at least one)."""
    started = time.perf_counter()
    run()
    while time.perf_counter() - started < WARM_UP:
        run()
    times = []
    while len(times) < repeats or sum(times) < TIMED:
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def training_cell(
    width: int, activation: str, parameterization: str, batch: int, length: int, repeats: int
) -> dict:
    """Time one training step of each forward for one cell (each on its own copy of the model)."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(batch, length, 1, dtype=torch.float64, generator=generator)
    targets = torch.randn(batch, length, 1, dtype=torch.float64, generator=generator)
    weights = torch.ones(length, dtype=torch.float64)
    settings = TrainingSettings()
    model = RNN(width, activation, parameterization, seed=0)
    with torch.no_grad():  # eigenvalues off the projection boundary w = 0 and below 2/dt (stable Euler steps)
        model.recurrent_raw.abs_().add_(0.05).clamp_(max=1.0)
    difference = check_agreement(model, inputs, targets, weights)
    if not difference <= TOLERANCE:
        raise SystemExit(f"{width} {activation} {parameterization}: forwards differ by {difference:.2e}")
    timings = {}
    loops = {"loop": per_step_loop, "authors": authors_loop, "model": lambda model: None}
    for name, loop in loops.items():
        copy_ = copy.deepcopy(model)
        optimizer = make_optimizer(copy_, settings)
        forward = loop(copy_)

        def step(copy_=copy_, optimizer=optimizer, forward=forward) -> float:
            return training_step(copy_, optimizer, inputs, targets, weights, settings, forward)

        timings[name] = median_time(step, repeats)
    return {
        "width": width,
        "activation": activation,
        "parameterization": parameterization,
        "difference": difference,
        **timings,
    }


def matrix_product_rate(size: int = 2048) -> float:
    """The float64 floating-point operations per second of one large square matrix product (torch's
    BLAS, this process's threads): the arithmetic peak the perturbation bound is taken against."""
    generator = torch.Generator().manual_seed(2)
    a, b = (torch.randn(size, size, dtype=torch.float64, generator=generator) for _ in range(2))
    return 2 * size**3 / median_time(lambda: a @ b, 3)


def perturbation_operations(pairs: int, size: int, length: int, width: int) -> float:
    """Floating-point operations of the batched perturbation error's recurrent products alone,
    ``2 m²`` per member, sequence and step: a lower bound on its arithmetic."""
    return 2.0 * width * width * pairs * size * length


def perturbation_cell(width: int, activation: str, parameterization: str, repeats: int) -> dict:
    """Time E_m(β) for all (β, draw) pairs: batched ensembles vs one forward per pair."""
    settings = load_config(CONFIG)["perturbation"]
    betas = beta_grid(**settings["betas"])
    draws, size = settings["draws"], settings["evaluation_size"]
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(size, 100, 1, dtype=torch.float64, generator=generator)
    targets = torch.randn(size, 100, 1, dtype=torch.float64, generator=generator)
    weights = torch.ones(100, dtype=torch.float64)
    model = RNN(width, activation, parameterization, seed=0)
    loss = fixed_set_loss(inputs, targets, weights)
    batched = perturbation_errors(model, loss, betas, draws, seed=0)

    @torch.no_grad()
    def one_forward_per_draw(forward_of: Callable[[RNN], Callable[[Tensor], Tensor]]) -> list[float]:
        directions = noise_directions(model, draws, seed=0)
        perturbed = copy.deepcopy(model)
        forward = forward_of(perturbed)
        errors = []
        for beta in betas:
            for draw in range(1 if beta == 0 else draws):
                for name, parameter in perturbed.named_parameters():
                    parameter.copy_(getattr(model, name) + beta * directions[draw][name])
                errors.append(float(weighted_mse(forward(inputs), targets, weights)))
        return errors

    reference = one_forward_per_draw(per_step_loop)
    difference = max(
        abs(row["error"] - error) / max(abs(error), 1e-300)
        for row, error in zip(batched, reference, strict=True)
        if np.isfinite(error)
    )
    if not difference <= TOLERANCE:
        raise SystemExit(f"perturbation errors differ by {difference:.2e}")
    return {
        "cell": f"{width} {activation} {parameterization}",
        "pairs": len(batched),
        "size": size,
        "difference": difference,
        "batched": median_time(lambda: perturbation_errors(model, loss, betas, draws, seed=0), repeats),
        "loop": median_time(lambda: one_forward_per_draw(per_step_loop), max(1, repeats // 2)),
        "authors": median_time(lambda: one_forward_per_draw(authors_loop), max(1, repeats // 2)),
        "forward": median_time(lambda: one_forward_per_draw(lambda m: m), repeats),
    }


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="widths 8 and 64 and fewer repeats")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per measurement")
    arguments = parser.parse_args(argv)
    torch.set_num_threads(arguments.threads)
    repeats = arguments.repeats or (3 if arguments.quick else 7)
    widths = QUICK_WIDTHS if arguments.quick else WIDTHS
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, {torch.backends.cpu.get_cpu_capability()} kernels")
    print(
        f"training step, batch {arguments.batch}, T = {arguments.length}, float64, medians of at least "
        f"{repeats} runs (and {TIMED} s) after {WARM_UP} s of warm-up"
    )
    header = f"{'width':>5} {'activation':<10} {'parameterization':<16} {'loop ms':>9} {'model ms':>9}"
    print(f"{header} {'speedup':>8} {'authors ms':>10} {'speedup':>8}")
    speedups, authors_speedups = [], []
    for width, activation, parameterization in itertools.product(widths, ACTIVATION_NAMES, PARAMETERIZATIONS):
        cell = training_cell(width, activation, parameterization, arguments.batch, arguments.length, repeats)
        speedups.append(cell["loop"] / cell["model"])
        authors_speedups.append(cell["authors"] / cell["model"])
        print(
            f"{width:>5} {activation:<10} {parameterization:<16} {cell['loop'] * 1e3:>9.2f} "
            f"{cell['model'] * 1e3:>9.2f} {speedups[-1]:>7.1f}x {cell['authors'] * 1e3:>10.2f} "
            f"{authors_speedups[-1]:>7.1f}x",
            flush=True,
        )
    print(f"slowest cell: {min(speedups):.1f}x (authors' loop: {min(authors_speedups):.1f}x)")
    print(f"median speedup against the authors' loop: {statistics.median(authors_speedups):.1f}")
    rate = matrix_product_rate()
    print(f"float64 matrix product: {rate / 1e9:.1f} GFLOP/s (2048 x 2048, {threads} threads)")
    for width in widths:
        cell = perturbation_cell(width, "tanh", "softplus", repeats)
        bound = perturbation_operations(cell["pairs"], cell["size"], 100, width) / rate
        print(
            f"perturbation error, {cell['cell']}: {cell['pairs']} (beta, draw) pairs on {cell['size']} "
            f"sequences: batched {cell['batched']:.3f} s; one forward per draw: "
            f"lean loop {cell['loop']:.3f} s "
            f"({cell['loop'] / cell['batched']:.1f}x), authors' loop {cell['authors']:.3f} s "
            f"({cell['authors'] / cell['batched']:.1f}x), the model's own {cell['forward']:.3f} s "
            f"({cell['forward'] / cell['batched']:.1f}x); arithmetic bound {bound:.3f} s "
            f"({bound / cell['batched']:.0%} of it reached)",
            flush=True,
        )
    median = statistics.median(speedups)
    print(f"median speedup: {median:.1f}")
    return median


if __name__ == "__main__":
    main(sys.argv[1:])
