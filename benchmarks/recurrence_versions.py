"""Another version of the fast path (a copy of ``src/curse_of_memory/recurrence.py``) against this one, timed
in turns in one process: a change to the recurrence is measured as a ratio on the same machine at the same
moment, which a shared machine's drifting speed does not bias.

Two workloads: the evaluation pass (:func:`stepped_outputs`, a tanh model's perturbed ensemble of 64
members on 512 sequences, as the perturbation error runs it) and the training pass (:func:`traced_outputs`
then :func:`pullback`, one tanh model, batch 128 and 512), at widths 8–64, T = 100, float64. Both versions
first give the same outputs to 1e-9 relative.

    git show 6ddc52a:src/curse_of_memory/recurrence.py > /tmp/rows.py
    python benchmarks/recurrence_versions.py /tmp/rows.py --threads 1

Each line ends with ``other/this``: the median over turns of the other version's time over this one's
(above 1: this version is faster).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from types import ModuleType

import torch
from torch import Tensor

from curse_of_memory import recurrence

WIDTHS = (8, 16, 32, 64)
LENGTH = 100
DT = 0.5


def load_version(path: str) -> ModuleType:
    """The module at ``path``, imported under its own name beside the package's."""
    spec = importlib.util.spec_from_file_location("other_recurrence", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def parameters(members: int, width: int, dense: bool, generator: torch.Generator) -> list[Tensor]:
    """[U, b, w_hat, c, c0] per member, with a recurrent matrix Ŵ near the identity (stable Euler steps)."""

    def draw(*shape: int) -> Tensor:
        return 0.3 * torch.randn(*shape, generator=generator, dtype=torch.float64)

    identity = torch.eye(width, dtype=torch.float64)
    w_hat = draw(members, width, width) + identity if dense else draw(members, width).abs() + 0.05
    return [draw(members, width), draw(members, width), w_hat, draw(members, width), draw(members)]


def in_turns(runs: dict[str, Callable[[], Tensor]], turns: int) -> dict[str, list[float]]:
    """Seconds of each run, the runs taking turns ``turns`` times after one untimed round."""
    for run in runs.values():
        run()
    times = {name: [] for name in runs}
    for _ in range(turns):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


def timing_arguments(
    parser: argparse.ArgumentParser, argv: list[str] | None, turns: int
) -> argparse.Namespace:
    """Add ``--threads`` and ``--turns`` to ``parser`` and parse ``argv``; then use that many torch threads
    and print the torch version, threads and kernels that the times below the line are of."""
    parser.add_argument("--threads", type=int, default=1, help="torch threads (pipeline jobs: 1)")
    parser.add_argument("--turns", type=int, default=turns, help="timed turns per workload")
    arguments = parser.parse_args(argv)
    torch.set_num_threads(arguments.threads)
    capability = torch.backends.cpu.get_cpu_capability()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {capability} kernels")
    return arguments


def print_in_turns(label: str, runs: dict[str, Callable[[], object]], turns: int) -> float:
    """Time two runs in turns and print one line: each one's median time and the median over turns of
    the first one's time over the second's, which this returns."""
    (first, second), times = runs, in_turns(runs, turns)
    ratio = statistics.median(a / b for a, b in zip(times[first], times[second], strict=True))
    print(
        f"{label}: {first} {statistics.median(times[first]) * 1e3:8.2f} ms, "
        f"{second} {statistics.median(times[second]) * 1e3:8.2f} ms, {first}/{second} {ratio:.2f}",
        flush=True,
    )
    return ratio


def compare(label: str, other: Callable[[], Tensor], this: Callable[[], Tensor], turns: int) -> float:
    """Check that both give the same outputs, time them in turns, print one line; ``other/this``."""
    expected, got = other(), this()
    difference = float((expected - got).abs().max() / expected.abs().max())
    if not difference <= 1e-9:
        raise SystemExit(f"{label}: the versions' outputs differ by {difference:.1e}")
    return print_in_turns(label, {"other": other, "this": this}, turns)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", help="path of the other version of recurrence.py")
    arguments = timing_arguments(parser, argv, turns=7)
    other = load_version(arguments.other)
    generator = torch.Generator().manual_seed(0)
    for width in WIDTHS:
        members = parameters(64, width, True, generator)
        inputs = torch.randn(512, LENGTH, 1, generator=generator, dtype=torch.float64)
        compare(
            f"evaluation, 64 members x 512 sequences, width {width:2d}",
            lambda module=other, p=members, x=inputs: module.stepped_outputs(x, p, DT, "tanh"),
            lambda p=members, x=inputs: recurrence.stepped_outputs(x, p, DT, "tanh"),
            arguments.turns,
        )
    for batch in (128, 512):
        for width in WIDTHS:
            for dense in (False, True):
                model = parameters(1, width, dense, generator)
                inputs = torch.randn(batch, LENGTH, 1, generator=generator, dtype=torch.float64)
                grad_outputs = torch.randn(1, batch, LENGTH, generator=generator, dtype=torch.float64)

                def training_pass(module: ModuleType, p=model, x=inputs, g=grad_outputs) -> Tensor:
                    outputs, trace = module.traced_outputs(x, p, DT, "tanh")
                    gradients = module.pullback(trace, g)
                    return torch.cat([outputs.flatten(), *(part.flatten() for part in gradients)])

                compare(
                    f"training pass, batch {batch}, width {width:2d}, {'dense' if dense else 'diagonal'}",
                    lambda f=training_pass: f(other),
                    lambda f=training_pass: f(recurrence),
                    arguments.turns,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
