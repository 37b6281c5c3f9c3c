"""Targets (the maps ``y = H(x)`` the RNNs learn) and their seeded data sets.

Kinds of target (registry :data:`TARGET_KINDS`; a config entry's ``kind`` picks one):

- ``linear``: the linear functional ``H_t(x) = ∫ ρ(s) x_{t-s} ds`` with a registered memory shape ρ.
- ``nonlinear``: ``y_k = tanh(scale · z_k)`` with ``z = dt Σ ρ(s dt) x_{k−s}`` (Figure 2's nonlinear
  functional with polynomial memory; a Wiener system). Its Heaviside memory function is
  ``scale · ρ(t) · max_x tanh'(x · scale · Σ_{s≤t} ρ dt)``, which for the smallest amplitudes is
  ``≈ scale · ρ(t)``: it decays like ρ, e.g. ``(t+1)^{-1.5}``, and the pipeline measures it.
- ``teacher_rnn`` / ``teacher_transformer``: random teachers from :mod:`curse_of_memory.teachers`.

The discrete functional is the Riemann sum ``y_k = dt · Σ_{s=0}^{k} ρ(s·dt) x_{k-s}`` (docs/paper.md §1),
computed by zero-padded FFT convolution in O(T log T). With the authors' ``dt = 1`` it equals their
``Σ ρ(s·dt) x_{k-s}`` exactly; keeping ``dt`` inside the sum makes the memory function of the
discrete functional equal ``|ρ|`` for any ``dt`` (see :mod:`curse_of_memory.memory`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.special
import torch

from curse_of_memory.teachers import TeacherRNN, TeacherTransformer

MemoryShape = Callable[..., np.ndarray]

#: Registry of memory shapes ρ(t); keyword arguments with defaults are the shape's parameters.
MEMORY_SHAPES: dict[str, MemoryShape] = {}


def register_memory_shape(name: str) -> Callable[[MemoryShape], MemoryShape]:
    """Add a memory shape ``ρ(t, **parameters)`` to :data:`MEMORY_SHAPES` under ``name``."""

    def decorator(function: MemoryShape) -> MemoryShape:
        MEMORY_SHAPES[name] = function
        return function

    return decorator


@register_memory_shape("exp")
def exponential(t: np.ndarray, rate: float = 1.0) -> np.ndarray:
    """``ρ(t) = e^{-rate·t}``; the authors' code uses rate 1, the paper's Fig. 1 ``0.9^t`` (rate −ln 0.9)."""
    return np.exp(-rate * t)


@register_memory_shape("pol")
def polynomial(t: np.ndarray, scale: float = 0.1, power: float = 1.1) -> np.ndarray:
    """``ρ(t) = (1 + scale·t)^{-power}``; the authors' code uses scale 0.1, power 1.1."""
    return (1.0 + scale * t) ** (-power)


@register_memory_shape("shift")
def shift(t: np.ndarray, start: float = 9.0, stop: float = 11.0) -> np.ndarray:
    """``ρ(t) = 1`` for ``start < t < stop``, else 0: the output is a delayed copy of the input."""
    return ((t > start) & (t < stop)).astype(float)


@register_memory_shape("twopart")
def two_part(t: np.ndarray, rate: float = 1.0, centre: float = 9.0) -> np.ndarray:
    """``ρ(t) = e^{-rate·t} + e^{-(t - centre)^2}``: a fast decay plus a delayed bump."""
    return np.exp(-rate * t) + np.exp(-((t - centre) ** 2))


@register_memory_shape("airy")
def airy(t: np.ndarray, shift: float = 6.0) -> np.ndarray:
    """``ρ(t) = Ai(t - shift)``: oscillating before ``shift``, super-exponential decay after."""
    return scipy.special.airy(t - shift)[0]


@register_memory_shape("sin")
def sine(t: np.ndarray, frequency: float = 1.0) -> np.ndarray:
    """``ρ(t) = sin(frequency·t)``: a memory that never decays."""
    return np.sin(frequency * t)


def shape_parameters(memory: str) -> dict[str, float]:
    """The parameters of a registered memory shape with their default values."""
    signature = inspect.signature(MEMORY_SHAPES[memory])
    return {name: p.default for name, p in list(signature.parameters.items())[1:]}


@dataclass(frozen=True)
class LinearFunctional:
    """A linear functional target with memory ``scale · ρ``; callable on (batch, time, 1) tensors."""

    memory: str
    parameters: dict[str, float] = field(default_factory=dict)
    scale: float = 1.0
    dt: float = 1.0

    def rho(self, t: np.ndarray) -> np.ndarray:
        """The memory ``scale · ρ(t)`` at times ``t``."""
        return self.scale * MEMORY_SHAPES[self.memory](np.asarray(t, dtype=float), **self.parameters)

    def kernel(self, length: int) -> np.ndarray:
        """``dt · scale · ρ(k·dt)`` for k = 0..length-1: the discrete convolution kernel."""
        return self.dt * self.rho(self.dt * np.arange(length))

    def apply(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs ``y_k = dt Σ_{s≤k} ρ(s dt) x_{k-s}`` of inputs shaped (batch, time), by FFT."""
        return fft_causal_convolution(inputs, self.kernel(inputs.shape[-1]))

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """The functional as a causal sequence model: (batch, time, 1) → (batch, time, 1)."""
        outputs = self.apply(inputs[..., 0].detach().cpu().numpy())
        return torch.as_tensor(outputs, dtype=inputs.dtype, device=inputs.device)[..., None]


@dataclass(frozen=True)
class SaturatedFunctional(LinearFunctional):
    """``y_k = tanh(z_k)`` with ``z`` the linear functional of memory ``scale · ρ`` (kind ``nonlinear``);
    ``rho`` is the small-amplitude memory, an upper bound of the measured one."""

    def apply(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs ``tanh(z)`` of inputs shaped (batch, time)."""
        return np.tanh(super().apply(inputs))


@dataclass(frozen=True)
class ModuleTarget:
    """A torch teacher module as a target: (batch, time, 1) tensors or (batch, time) arrays."""

    module: torch.nn.Module
    dt: float = 1.0
    #: Sequences per forward pass when generating a data set (bounds memory, not results).
    batch_size: int = 4096

    @torch.no_grad()
    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.module(inputs.to(torch.float64))

    def apply(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs of inputs shaped (batch, time), in batches."""
        tensor = torch.as_tensor(inputs, dtype=torch.float64)[..., None]
        chunks = [self(chunk)[..., 0] for chunk in tensor.split(self.batch_size)]
        return torch.cat(chunks).numpy()


Target = LinearFunctional | SaturatedFunctional | ModuleTarget


def _memory_target(cls: type) -> Callable[[dict, float], Target]:
    def build(spec: dict, dt: float) -> Target:
        return cls(memory=spec["memory"], parameters=dict(spec["parameters"]), scale=spec["scale"], dt=dt)

    return build


def _module_target(cls: type) -> Callable[[dict, float], Target]:
    def build(spec: dict, dt: float) -> Target:
        return ModuleTarget(cls(**spec["parameters"]), dt=dt)

    build.module_class = cls
    return build


#: Registry of target kinds: ``kind → build(spec, dt)``; ``spec`` is a config ``targets`` entry.
TARGET_KINDS: dict[str, Callable[[dict, float], Target]] = {
    "linear": _memory_target(LinearFunctional),
    "nonlinear": _memory_target(SaturatedFunctional),
    "teacher_rnn": _module_target(TeacherRNN),
    "teacher_transformer": _module_target(TeacherTransformer),
}


def kind_parameters(spec: dict) -> dict[str, float]:
    """The parameters a target entry may set, with defaults: the memory shape's or the teacher's."""
    build = TARGET_KINDS[spec["kind"]]
    if hasattr(build, "module_class"):
        signature = inspect.signature(build.module_class)
        return {name: p.default for name, p in signature.parameters.items()}
    return shape_parameters(spec["memory"])


def build_target(spec: dict, dt: float) -> Target:
    """The target of one config ``targets`` entry (``kind`` defaults to ``linear``)."""
    spec = {"kind": "linear", "parameters": {}, "scale": 1.0, **spec}
    return TARGET_KINDS[spec["kind"]](spec, dt)


def fft_causal_convolution(inputs: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``y_k = Σ_{s=0}^{k} kernel_s · x_{k-s}`` along the last axis, zero-padded to avoid wrap-around."""
    length = inputs.shape[-1]
    size = 2 * length
    spectrum = np.fft.rfft(inputs, n=size, axis=-1) * np.fft.rfft(kernel[:length], n=size)
    return np.fft.irfft(spectrum, n=size, axis=-1)[..., :length]


SPLITS = ("train", "validation", "test")


def sample_inputs(
    sizes: dict[str, int], length: int, input_std: float, seed: int, test_length: int | None = None
) -> dict[str, np.ndarray]:
    """I.i.d. Gaussian inputs per split, each split from its own child of ``SeedSequence(seed)``; the
    test split ``test_length`` steps long (default: ``length``).

    The inputs depend only on the seed and sizes, so every target sees the same input sequences
    (a controlled comparison between memory shapes).
    """
    children = np.random.SeedSequence(seed).spawn(len(SPLITS))
    lengths = {split: length for split in SPLITS} | {"test": test_length or length}
    return {
        split: input_std * np.random.default_rng(child).standard_normal((sizes[split], lengths[split]))
        for split, child in zip(SPLITS, children, strict=True)
    }


def make_dataset(
    target: Target,
    sizes: dict[str, int],
    length: int,
    input_std: float,
    seed: int,
    test_length: int | None = None,
) -> dict[str, np.ndarray]:
    """Inputs ``x_<split>``, outputs ``y_<split>``, the time grid ``t`` and (if defined) ``rho`` on it.

    ``test_length`` makes the test split longer than the others, so that models trained on a short
    horizon are evaluated on a longer one (Figure 2: trained on t ≤ 3.2, evaluated to t = 10)."""
    arrays: dict[str, np.ndarray] = {}
    for split, inputs in sample_inputs(sizes, length, input_std, seed, test_length).items():
        arrays[f"x_{split}"] = inputs
        arrays[f"y_{split}"] = target.apply(inputs)
    arrays["t"] = target.dt * np.arange(max(length, test_length or length))
    if hasattr(target, "rho"):
        arrays["rho"] = target.rho(arrays["t"])
    return arrays


def target_from_metadata(metadata: dict) -> Target:
    """Rebuild the target recorded in a data set's metadata (its config entry and ``dt``)."""
    return build_target(metadata["target"], metadata["dt"])
