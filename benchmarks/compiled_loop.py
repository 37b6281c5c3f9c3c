"""Would torch's compiler make the plain per-step loop as fast as the fast path, or faster? The lean loop of
``benchmarks/recurrence.py`` compiled with ``torch.compile`` (TorchInductor: the pointwise ops of a step
fused into generated C++ vectorised for the CPU it runs on) against the same loop run eagerly and against
the model's fast path, timed in turns in one process.

Two workloads of a tanh vanilla model, T = 100, float64: the training pass (loss and gradients; the fast
path is :meth:`RNN.loss_and_backward`, batch 128 as the quick preset trains) and the evaluation pass
(outputs without gradients; the fast path is the model's forward, batch 512 as the perturbation error
evaluates). Each compiled loop first gives the fast path's outputs and gradients to 1e-9 relative, and the
seconds its first call took (tracing and compiling) are printed: every pipeline job would pay them once
per shape, in a fresh process.

    python benchmarks/compiled_loop.py --threads 1

Each timed line ends with ``compiled/fast path`` or ``eager/compiled``: the median over turns of the first
run's time over the second's.
"""

from __future__ import annotations

import argparse
import time

import torch
from recurrence import per_step_loop, relative_difference
from recurrence_versions import print_in_turns, timing_arguments

from curse_of_memory.loss import temporal_weights, weighted_mse
from curse_of_memory.models import RNN

LENGTH = 100
TRAINING_BATCH, EVALUATION_BATCH = 128, 512


def training_pass(forward, model: RNN, inputs, targets, weights):
    """Loss and parameter gradients through ``forward`` (a loop) under autograd."""
    parameters = list(model.parameters())

    def run():
        loss = weighted_mse(forward(inputs), targets, weights)
        return loss.detach(), *torch.autograd.grad(loss, parameters)

    return run


def fast_training_pass(model: RNN, inputs, targets, weights):
    """Loss and parameter gradients as the training step takes them (the hand-derived backward pass)."""

    def run():
        model.zero_grad(set_to_none=True)
        loss, backward = model.loss_and_backward(inputs, targets, weights * weights)
        backward(lambda margin: 0.0)
        return torch.tensor(loss, dtype=torch.float64), *(p.grad for p in model.parameters())

    return run


def evaluation_pass(forward, inputs):
    """Outputs of ``forward`` without gradients."""

    def run():
        with torch.no_grad():
            return (forward(inputs),)

    return run


def first_call(run) -> tuple[tuple, float]:
    """``run()``'s results and the seconds the call took."""
    started = time.perf_counter()
    results = run()
    return results, time.perf_counter() - started


def check(label: str, expected: tuple, got: tuple) -> None:
    """Stop unless every result agrees with the fast path's to 1e-9 relative."""
    difference = max(relative_difference(a, b) for a, b in zip(got, expected, strict=True))
    if not difference <= 1e-9:
        raise SystemExit(f"{label}: the compiled loop differs from the fast path by {difference:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 64])
    arguments = timing_arguments(parser, None, turns=5)
    generator = torch.Generator().manual_seed(0)
    weights = temporal_weights(LENGTH, 2.0)
    for width in arguments.widths:
        model = RNN(width, "tanh", "vanilla", dt=0.5, seed=0)
        eager = per_step_loop(model)
        compiled = torch.compile(eager, dynamic=False)
        batches = {"training": TRAINING_BATCH, "evaluation": EVALUATION_BATCH}
        for workload, batch in batches.items():
            inputs = torch.randn(batch, LENGTH, 1, generator=generator, dtype=torch.float64)
            if workload == "training":
                targets = torch.randn(batch, LENGTH, 1, generator=generator, dtype=torch.float64)
                fast = fast_training_pass(model, inputs, targets, weights)
                loops = {
                    name: training_pass(forward, model, inputs, targets, weights)
                    for name, forward in (("eager", eager), ("compiled", compiled))
                }
            else:
                fast = evaluation_pass(model, inputs)
                loops = {
                    name: evaluation_pass(forward, inputs)
                    for name, forward in (("eager", eager), ("compiled", compiled))
                }
            label = f"width {width:2d}, {workload} pass, batch {batch}"
            results, seconds = first_call(loops["compiled"])
            check(label, fast(), results)
            print(f"{label}: first compiled call {seconds:.1f} s", flush=True)
            print_in_turns(label, {"compiled": loops["compiled"], "fast path": fast}, arguments.turns)
            print_in_turns(label, {"eager": loops["eager"], "compiled": loops["compiled"]}, arguments.turns)


if __name__ == "__main__":
    main()
