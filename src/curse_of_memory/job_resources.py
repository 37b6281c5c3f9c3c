"""What each job asks a scheduler for (threads are the rule's; memory, walltime and a GPU here), as
functions of the work its settings describe, bounded from costs measured on one machine with a margin.

Measured on a 2-core AMD EPYC (AVX2) with torch 2.13.0's CPU build, float64, at the paper preset's sizes
(128,000 training sequences of length 100). The bounds assume no speed-up from more threads or from a GPU:
they are walltime limits, which a faster node only leaves unused (docs/running.md projects the faster
cases). Plain Python, so the workflow reads it without importing torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Every bound below is this many times the measured cost (a slower or busier node, a slower BLAS).
RUNTIME_MARGIN = 2.0
#: Minutes every job gets on top: process start-up (torch, pandas), reading and writing its files.
STARTUP_MINUTES = 3
#: MB every job's process takes before its data: Python, torch and the BLAS (about 300 measured).
BASE_MEMORY_MB = 1000
#: A job's memory is the base plus this many times the float64 arrays it holds (the data and its copies).
MEMORY_MARGIN = 4.0

#: Training epoch seconds on 2 threads, by width, for 128,000 + 12,800 sequences of length 100
#: (training and validation): docs/running.md's `pol tanh vanilla` family at the paper preset.
TRAINING_EPOCH_SECONDS = {8: 5.0, 16: 5.0, 32: 10.0, 64: 18.0}
TRAINING_SEQUENCE_STEPS = (128_000 + 12_800) * 100
#: Perturbation-error seconds per model on 1 thread, by width, for 631 perturbed members on 12,800 test
#: sequences of length 100 (the paper preset's 21 betas x 30 draws + the model itself, before issue 36).
PERTURBATION_MODEL_SECONDS = {8: 44.0, 16: 78.0, 32: 169.0, 64: 393.0}
PERTURBATION_MEMBER_STEPS = 631 * 12_800 * 100


@dataclass(frozen=True)
class AffineBound:
    """seconds ≈ (intercept + slope · width) per unit of work: a line on or above every measured point."""

    intercept: float
    slope: float
    units: float  # the work of one measured point (sequence-steps, member-sequence-steps)

    def seconds(self, width: int, work: float) -> float:
        return (self.intercept + self.slope * width) * work / self.units


#: On or above every point of TRAINING_EPOCH_SECONDS (tests/test_job_resources.py checks it).
TRAINING = AffineBound(intercept=4.0, slope=0.25, units=TRAINING_SEQUENCE_STEPS)
#: A forward pass of a perturbed member, on or above every point of PERTURBATION_MODEL_SECONDS.
FORWARD = AffineBound(intercept=30.0, slope=6.2, units=PERTURBATION_MEMBER_STEPS)
#: A gradient-ascent pass (forward and backward under autograd) costs at most this many forward passes,
#: and holds at most this many times its traced state values.
BACKWARD_FACTOR = 3.0
#: The most state values a worst-case ascent pass traces at once (256 MB of float64): the rule passes it
#: to workflow/scripts/worst_case.py, which sizes its ensembles by it.
ASCENT_TRACED_VALUES = 2**25
#: Images and pixels (the sequence length) of each classification dataset; `idx` at MNIST's size.
CLASSIFICATION_IMAGES = {"mnist_5k": (5000, 784), "digits_8x8": (1797, 64), "idx": (70000, 784)}


def runtime_minutes(seconds: float) -> int:
    """A walltime request in whole minutes: the margin times the estimate, plus start-up."""
    return STARTUP_MINUTES + int(RUNTIME_MARGIN * seconds / 60.0 + 0.999)


def memory_mb(float64_values: float) -> int:
    """A memory request: the base process plus the margin times ``float64_values`` of arrays."""
    return BASE_MEMORY_MB + int(MEMORY_MARGIN * 8 * float64_values / 1e6 + 0.999)


def split_values(sizes: dict, length: int) -> float:
    """The float64 values of a target's dataset: inputs and outputs of every sequence of every split."""
    return 2.0 * length * sum(sizes.values())


def training_seconds(widths: list[int], max_epochs: list[int], sizes: dict, length: int) -> float:
    """A family's training, every width running its ``max_epochs`` (the chained stop may not fire)."""
    work = (sizes["train"] + sizes["validation"]) * length
    return sum(epochs * TRAINING.seconds(w, work) for w, epochs in zip(widths, max_epochs, strict=True))


def perturbation_seconds(widths: list[int], members: int, sequences: int, length: int) -> float:
    """A family's perturbation errors: ``members`` perturbed forward passes per model over ``sequences``."""
    return sum(FORWARD.seconds(w, members * sequences * length) for w in widths)


def worst_case_seconds(widths: list[int], betas: int, settings: dict, sequences: int, length: int) -> float:
    """A family's worst-case ascent: ``starts`` per beta, ``steps`` + 1 traced passes on the ascent subset,
    then one forward pass of each result over every evaluation sequence."""
    members = betas * settings["starts"]
    ascent = (settings["ascent_size"] or sequences) * length * (settings["steps"] + 1) * BACKWARD_FACTOR
    return sum(FORWARD.seconds(w, members * (ascent + sequences * length)) for w in widths)


def classifier_seconds(width: int, epochs: int, images: int, length: int) -> float:
    """One classifier: ``epochs`` over ``images`` (training, validation and test) of ``length`` pixels."""
    return epochs * TRAINING.seconds(width, images * length)


def learning_rate_seconds(widths: list[int], rates: int, max_epochs: int, sizes: dict, length: int) -> float:
    """One sweep: every width trained at every rate for at most ``max_epochs``."""
    work = (sizes["train"] + sizes["validation"]) * length
    return rates * max_epochs * sum(TRAINING.seconds(w, work) for w in widths)


#: A job that reads tables and draws or writes a few files (summaries, figures, claims, memory functions).
LIGHT_JOB = {"runtime": 20, "mem_mb": 4000, "gpu": 0}


def listed_jobs(listing: str) -> list[tuple[str, dict[str, str]]]:
    """Every job of a Snakemake (dry) run's listing: its rule and its fields as listed (``input``,
    ``threads``, ``resources``, ``benchmark``, ...), for the tests and benchmarks that read what jobs ask."""
    jobs = []
    for match in re.finditer(r"^(?:local)?rule (\w+):\n((?:    .*\n)*)", listing, re.M):
        lines = match.group(2).splitlines()
        jobs.append((match.group(1), dict(line.strip().split(": ", 1) for line in lines if ": " in line)))
    return jobs


def listed_resources(field: str) -> dict[str, str]:
    """A listed ``resources:`` field (``tmpdir=/tmp, runtime=6, gpu=1, ...``) as a dict."""
    return dict(item.split("=", 1) for item in field.split(", ")) if field else {}
