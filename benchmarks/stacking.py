"""Would training models in lockstep pay? One training pass of a stack of E models against E passes of one
model, timed in turns in one process.

Stacked: the E members' parameters carry a leading dimension and one pass computes every member's loss and
gradients (the fast path's ensemble form, with autograd through ``Ŵ = Pᵀ diag(g) P``: how the worst-case
ascent differentiates its ensembles). Single: :meth:`RNN.loss_and_backward`, the training step's path, once
per member. A tanh softplus model, T = 100, float64, widths 8–64, batch 128 and 512; the stacked pass
first gives every member the single model's loss and gradients to 1e-9 relative.

    python benchmarks/stacking.py --threads 1

Each line ends with ``single/stacked``: the median over turns of E single passes' time over the stacked
pass's (above 1: stacking pays).
"""

from __future__ import annotations

import argparse

import torch
from recurrence_versions import print_in_turns, timing_arguments
from torch.func import functional_call

from curse_of_memory.loss import temporal_weights, weighted_mse
from curse_of_memory.models import RNN

WIDTHS = (8, 16, 32, 64)
BATCHES = (128, 512)
LENGTH = 100


def single_passes(model: RNN, inputs, targets, squared_weights, members: int):
    """E passes of :meth:`RNN.loss_and_backward`; the last one's loss and gradients."""

    def run():
        for _ in range(members):
            loss, backward = model.loss_and_backward(inputs, targets, squared_weights)
            backward(lambda margin: 0.0)
        gradients = [parameter.grad for _, parameter in model.named_parameters()]
        return torch.tensor([loss], dtype=torch.float64), gradients

    return run


def stacked_pass(model: RNN, inputs, targets, weights, members: int):
    """One pass of the stack of E copies of ``model``; every member's loss and gradients."""
    stacked = {
        name: parameter.detach().expand(members, *parameter.shape).clone().requires_grad_()
        for name, parameter in model.named_parameters()
    }

    def run():
        losses = weighted_mse(functional_call(model, stacked, (inputs,)), targets, weights)
        return losses.detach(), torch.autograd.grad(losses.sum(), list(stacked.values()))

    return run


def agrees(single, stacked) -> bool:
    """Every member's loss and gradients equal the single model's to 1e-9 relative."""
    (loss, gradients), (losses, stacked_gradients) = single(), stacked()
    pairs = [(loss, losses), *zip(gradients, stacked_gradients, strict=True)]
    return all(float((many - one).abs().max()) <= 1e-9 * float(one.abs().max()) for one, many in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=8, help="models per stack (E)")
    arguments = timing_arguments(parser, None, turns=5)
    generator = torch.Generator().manual_seed(0)
    weights = temporal_weights(LENGTH, 2.0)
    for width in WIDTHS:
        model = RNN(width, "tanh", "softplus", dt=0.5, seed=0)
        for batch in BATCHES:
            inputs = torch.randn(batch, LENGTH, 1, generator=generator, dtype=torch.float64)
            targets = torch.randn(batch, LENGTH, 1, generator=generator, dtype=torch.float64)
            single = single_passes(model, inputs, targets, weights * weights, arguments.members)
            stacked = stacked_pass(model, inputs, targets, weights, arguments.members)
            if not agrees(single, stacked):
                raise SystemExit(f"width {width}, batch {batch}: the stacked pass's gradients differ")
            label = f"width {width:2d}, batch {batch:3d}, {arguments.members} members"
            print_in_turns(label, {"single": single, "stacked": stacked}, arguments.turns)


if __name__ == "__main__":
    main()
