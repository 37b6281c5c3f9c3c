"""The compiled recurrence: ``recurrence.c`` built on first use, called through ctypes.

:meth:`curse_of_memory.models.RNN.forward` and :meth:`~curse_of_memory.models.RNN.outputs_and_backward`
use it on CPU float64 tensors: for the nonlinear activations step by step, for the linear one through its
impulse response and a convolution; one compiled call forward, one backward (:func:`outputs_and_pullback`,
wrapped for autograd by :class:`CompiledRecurrence`). Everything else (CUDA, another dtype, no C
compiler, or ``CURSE_OF_MEMORY_KERNEL=torch``) runs the model's plain per-step recurrence (linear:
the convolution with a kernel from powers by doubling), which the unit tests hold it equal to. The
library is compiled once per source, compiler flags and CPU into ``$CURSE_OF_MEMORY_CACHE`` (default
``~/.cache/curse-of-memory``); the build is atomic, so parallel jobs may race to it safely.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import math
import os
import platform
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

LOGGER = logging.getLogger(__name__)
SOURCE = Path(__file__).with_name("recurrence.c")
ACTIVATION_CODES = {"linear": 0, "tanh": 1, "hardtanh": 2, "relu": 3}
#: Compiler flag sets tried in order: vectorised for this CPU (on x86, loops in 512-bit registers where
#: the CPU has them) with OpenMP threads, then without the x86-only flag, then portable C.
FLAG_SETS = (
    ["-O3", "-march=native", "-mprefer-vector-width=512", "-fopenmp"],
    ["-O3", "-march=native", "-fopenmp"],
    ["-O3", "-fopenmp"],
    ["-O3"],
)


def _cache_directory() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "curse-of-memory"
    return Path(os.environ.get("CURSE_OF_MEMORY_CACHE", default))


def _cpu_description() -> str:
    """The CPU model and flags: a library built with -march=native runs only where they match."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor()
    first = {}
    for line in lines:
        first.setdefault(line.split(":")[0].strip(), line)
    return "\n".join(first.get(key, "") for key in ("model name", "flags"))


def _build(flags: list[str]) -> Path:
    compiler = os.environ.get("CC", "cc")
    digest = hashlib.sha256()
    for part in (SOURCE.read_bytes(), " ".join([compiler, *flags]).encode(), _cpu_description().encode()):
        digest.update(part)
    library = _cache_directory() / f"recurrence-{digest.hexdigest()[:16]}.so"
    if library.exists():
        return library
    library.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=library.parent) as scratch:
        built = Path(scratch) / library.name
        command = [compiler, "-shared", "-fPIC", "-o", str(built), str(SOURCE), *flags, "-lm"]
        subprocess.run(command, check=True, capture_output=True, text=True)
        os.replace(built, library)
    return library


@functools.cache
def compiled_library() -> ctypes.CDLL | None:
    """The loaded library, or None where it cannot be built (or ``CURSE_OF_MEMORY_KERNEL=torch``)."""
    if os.environ.get("CURSE_OF_MEMORY_KERNEL", "compiled") == "torch":
        return None
    errors = []
    for flags in FLAG_SETS:
        try:
            library = ctypes.CDLL(str(_build(flags)))
        except (OSError, subprocess.CalledProcessError) as error:
            errors.append(getattr(error, "stderr", None) or str(error))
            continue
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        library.recurrence_forward.argtypes = [integer] * 6 + [ctypes.c_double] + [pointer] * 8 + [integer]
        library.recurrence_backward.argtypes = [integer] * 6 + [ctypes.c_double] + [pointer] * 6 + [integer]
        library.linear_forward.argtypes = [integer] * 5 + [ctypes.c_double] + [pointer] * 9 + [integer]
        library.linear_backward.argtypes = [integer] * 5 + [ctypes.c_double] + [pointer] * 6 + [integer]
        library.recurrence_items_per_member.argtypes = [integer]
        library.recurrence_activations_size.argtypes = [integer] * 4
        library.recurrence_activations_size.restype = ctypes.c_long
        library.weighted_squared_error.argtypes = [integer] * 3 + [pointer] * 5 + [integer]
        return library
    LOGGER.warning("no compiled recurrence (%s); using the per-step torch loop", errors[-1].strip())
    return None


def available_for(*tensors: Tensor) -> bool:
    """Whether the compiled recurrence can evaluate these tensors (CPU float64, library built)."""
    usable = all(t.device.type == "cpu" and t.dtype == torch.float64 for t in tensors)
    return usable and compiled_library() is not None


def _address(tensor: Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


#: Activation buffers returned by finished backward passes, by size: reusing one spares the page
#: faults of a fresh allocation at every training step.
_FREE_BUFFERS: dict[int, Tensor] = {}


def as_members(parameters: list[Tensor]) -> list[Tensor]:
    """[U, b, feedback, c, c0] as the model holds them (U, b, c of shape (…, m), feedback (…, m) when
    diagonal, else (…, m, m), c0 (…, 1), with … an optional ensemble dimension E) as contiguous
    per-member arrays (E, m), (E, m), (E, m) or (E, m, m), (E, m), (E,): recurrence.c's layout, also
    the torch paths'."""
    width = parameters[0].shape[-1]
    feedback_shape = (-1, width) if parameters[2].dim() == parameters[0].dim() else (-1, width, width)
    shapes = [(-1, width), (-1, width), feedback_shape, (-1, width), (-1,)]
    pairs = zip(parameters, shapes, strict=True)
    return [parameter.reshape(shape).contiguous() for parameter, shape in pairs]


def _outputs_for(inputs: Tensor, output_bias: Tensor) -> Tensor:
    """The (…, B, T, 1) outputs of the members (… as ``output_bias`` (…, 1) has) for inputs (B, T)."""
    return inputs.new_empty(*output_bias.shape[:-1], *inputs.shape, 1)


def _pooled(size: int) -> Tensor:
    """An activation buffer of ``size`` doubles, from the pool when a finished backward pass left one."""
    return _FREE_BUFFERS.pop(size) if size in _FREE_BUFFERS else torch.empty(size, dtype=torch.float64)


def _forward(inputs: Tensor, parameters: list[Tensor], dt: float, activation: str, keep: bool):
    """Outputs (…, B, T, 1) and, when ``keep``, what the backward pass needs (``parameters`` as the model
    holds them, see :func:`as_members`): the linear activation through its kernels and a convolution."""
    library = compiled_library()
    outputs = _outputs_for(inputs, parameters[4])
    inputs = inputs.contiguous()
    input_weight, input_bias, feedback, output_weight, output_bias = as_members(parameters)
    (members, width), (batch, length) = input_weight.shape, inputs.shape
    diagonal, threads = int(feedback.dim() == 2), torch.get_num_threads()
    addresses = map(
        _address, (inputs, input_weight, input_bias, feedback, output_weight, output_bias, outputs)
    )
    kernels, activations = None, None
    if activation == "linear":
        kernels = inputs.new_empty(2 * members, length)
        if keep:  # those of the impulse responses: 2E members of one sequence
            activations = _pooled(library.recurrence_activations_size(2 * members, 1, length, width))
        failed = library.linear_forward(
            members, batch, length, width, diagonal, dt, *addresses, _address(kernels), _address(activations),
            threads,
        )  # fmt: skip
    else:
        if keep:
            activations = _pooled(library.recurrence_activations_size(members, batch, length, width))
        failed = library.recurrence_forward(
            members, batch, length, width, ACTIVATION_CODES[activation], diagonal, dt, *addresses,
            _address(activations), threads,
        )  # fmt: skip
    if failed:
        raise MemoryError(f"the compiled {activation} forward pass could not allocate its scratch memory")
    return outputs, (inputs, kernels, feedback, output_weight, activations)


def _backward(saved: tuple, grad_outputs: Tensor, dt: float, activation: str) -> Tensor:
    """The gradients of [U, b, feedback, c, c0] as one row per member (E, 3m + |feedback| + 1), from the
    compiled backward pass over ``saved`` (as from :func:`_forward`); the activations go back to the
    pool, so ``saved`` is spent afterwards."""
    library = compiled_library()
    inputs, kernels, feedback, output_weight, activations = saved
    (members, width), (batch, length) = output_weight.shape, inputs.shape
    diagonal, threads = int(feedback.dim() == 2), torch.get_num_threads()
    row = 3 * width + feedback[0].numel() + 1
    addresses = map(_address, (inputs, feedback, output_weight, grad_outputs.contiguous(), activations))
    if activation == "linear":
        gradients = inputs.new_empty(members, row)
        failed = library.linear_backward(
            members, batch, length, width, diagonal, dt, *addresses, _address(gradients), threads
        )
    else:  # one row per item of each member, summed into the member's first
        partials = inputs.new_zeros(members, library.recurrence_items_per_member(batch), row)
        failed = library.recurrence_backward(
            members, batch, length, width, ACTIVATION_CODES[activation], diagonal, dt, *addresses,
            _address(partials), threads,
        )  # fmt: skip
        gradients = partials[:, 0]
    if failed:
        raise MemoryError(f"the compiled {activation} backward pass could not allocate its scratch memory")
    _FREE_BUFFERS[activations.numel()] = activations
    return gradients


def _split_gradients(gradients: Tensor, shapes: list[torch.Size]) -> list[Tensor]:
    """The gradients [U, b, feedback, c, c0] in the parameters' ``shapes`` from the compiled code's rows
    (E, 3m + |feedback| + 1)."""
    members = len(shapes[4]) - 1  # the ensemble's dimensions: c0 is (…, 1)
    sizes = [math.prod(shape[members:]) for shape in shapes]
    return [part.reshape(shape) for part, shape in zip(gradients.split(sizes, dim=1), shapes, strict=True)]


def outputs_and_pullback(
    inputs: Tensor, parameters: list[Tensor], dt: float, activation: str
) -> tuple[Tensor, Callable[[Tensor], list[Tensor]]]:
    """Outputs (…, B, T, 1) for inputs (B, T) and ``parameters`` = [U, b, feedback, c, c0] as the model holds
    them (see :func:`as_members`), and their pullback: the function taking the outputs' gradient to the
    parameters' gradients (in their shapes), by the compiled backward pass. It runs once: it recycles the
    activations the forward pass kept, so a second call is refused."""
    outputs, saved = _forward(inputs, parameters, dt, activation, keep=True)
    shapes, spent = [parameter.shape for parameter in parameters], []

    def pullback(grad_outputs: Tensor) -> list[Tensor]:
        if spent:
            raise RuntimeError("a first backward pass released the compiled recurrence's saved activations")
        spent.append(True)
        return _split_gradients(_backward(saved, grad_outputs, dt, activation), shapes)

    return outputs, pullback


def recurrence_outputs(inputs: Tensor, parameters: list[Tensor], dt: float, activation: str) -> Tensor:
    """Outputs (…, B, T, 1) for inputs (B, T) and ``parameters`` = [U, b, feedback, c, c0] as the model
    holds them (see :func:`as_members`); differentiable in the parameters when grad mode asks for it."""
    if torch.is_grad_enabled() and any(p.requires_grad for p in parameters):
        return CompiledRecurrence.apply(inputs, dt, activation, *parameters)
    return _forward(inputs, parameters, dt, activation, keep=False)[0]


class CompiledRecurrence(torch.autograd.Function):
    """Outputs (…, B, T, 1) of the members' parameter sets on shared inputs (B, T), with the backward of
    recurrence.c (:func:`outputs_and_pullback`). Parameters as the model holds them (see
    :func:`as_members`); no gradient flows to the inputs."""

    @staticmethod
    def forward(ctx, inputs, dt, activation, *parameters):
        outputs, ctx.pullback = outputs_and_pullback(inputs, list(parameters), dt, activation)
        return outputs

    @staticmethod
    def backward(ctx, grad_outputs):
        return (None, None, None, *ctx.pullback(grad_outputs))


def _toeplitz(kernel: Tensor) -> Tensor:
    """(E, T, T) with ``[k, i] = kernel[k − i]`` for k ≥ i, else 0: windows of the reversed,
    zero-padded kernel."""
    length = kernel.shape[-1]
    return F.pad(kernel.flip(-1), (0, length - 1)).unfold(-1, length, 1).flip(-2)


def convolution_outputs(inputs: Tensor, kernel: Tensor, bias_response: Tensor, output_bias: Tensor) -> Tensor:
    """``ŷ_k = Σ_{j≤k} g_j x_{k−j} + Σ_{j≤k} r_j + c0`` (E, B, T) for inputs (B, T), kernels ``g`` and
    ``r`` (E, T) and ``c0`` (E,): the causal convolution as one product with a Toeplitz matrix."""
    return inputs @ _toeplitz(kernel).mT + (bias_response.cumsum(-1) + output_bias[:, None])[:, None, :]


def weighted_squared_error(
    predictions: Tensor, targets: Tensor, squared_weights: Tensor, keep: bool
) -> tuple[Tensor, Tensor | None]:
    """``mean_{n,k} w_k² (ŷ − y)²`` per member of predictions (..., B, T, 1) against targets (B, T, 1) and,
    when ``keep``, its gradient ``2 w_k² (ŷ − y) / (B T)``, in one compiled pass."""
    predictions, targets, squared_weights = (t.contiguous() for t in (predictions, targets, squared_weights))
    batch, length = targets.shape[:2]
    losses = predictions.new_empty(predictions.shape[:-3])
    gradient = torch.empty_like(predictions) if keep else None
    failed = compiled_library().weighted_squared_error(
        predictions.numel() // targets.numel(), batch, length,
        *map(_address, (predictions, targets, squared_weights, gradient, losses)), torch.get_num_threads(),
    )  # fmt: skip
    if failed:
        raise MemoryError("weighted_squared_error could not allocate its scratch memory")
    return losses, gradient
