"""The compiled recurrence: ``recurrence.c`` built on first use, called through ctypes.

:meth:`curse_of_memory.models.RNN.forward` and :meth:`~curse_of_memory.models.RNN.loss_and_backward`
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
        library.recurrence_forward.argtypes = [integer] * 6 + [ctypes.c_double] + [pointer] * 12 + [integer]
        library.recurrence_backward.argtypes = [integer] * 6 + [ctypes.c_double] + [pointer] * 6 + [integer]
        library.linear_forward.argtypes = [integer] * 5 + [ctypes.c_double] + [pointer] * 12 + [integer]
        library.linear_backward.argtypes = [integer] * 5 + [ctypes.c_double] + [pointer] * 6 + [integer]
        library.recurrence_activations_size.argtypes = [integer] * 4
        library.recurrence_activations_size.restype = ctypes.c_long
        library.weighted_squared_error.argtypes = [integer] * 3 + [pointer] * 5 + [integer]
        strided = [integer, pointer, ctypes.c_long, ctypes.c_long]
        library.rotated_pullback.argtypes = [*strided, pointer, pointer, ctypes.c_double] + [pointer] * 3
        library.smallest_eigenpair.argtypes = [integer] + [pointer] * 4
        return library
    LOGGER.warning("no compiled recurrence (%s); using the per-step torch loop", errors[-1].strip())
    return None


def available_for(*tensors: Tensor) -> bool:
    """Whether the compiled recurrence can evaluate these tensors (CPU float64, library built)."""
    usable = all(t.is_cpu and t.dtype == torch.float64 for t in tensors)
    return usable and compiled_library() is not None


def _address(tensor: Tensor | None) -> int | None:
    return None if tensor is None else tensor.data_ptr()


#: Activation and output-gradient buffers returned by finished backward passes, by size: reusing one
#: spares the page faults of a fresh allocation at every training step.
_FREE_BUFFERS: dict[int, list[Tensor]] = {}


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
    """The (…, B, T, 1) outputs of the members (… as ``output_bias`` (…, 1) has) for inputs (B, T, 1)."""
    return inputs.new_empty(*output_bias.shape[:-1], *inputs.shape)


def _pooled(size: int) -> Tensor:
    """A buffer of ``size`` doubles, from the pool when a finished backward pass left one."""
    free = _FREE_BUFFERS.get(size)
    return free.pop() if free else torch.empty(size, dtype=torch.float64)


def _forward(
    inputs: Tensor,
    parameters: list[Tensor],
    dt: float,
    activation: str,
    keep: bool,
    targets: Tensor | None = None,
    squared_weights: Tensor | None = None,
) -> tuple[Tensor, Tensor | None, tuple]:
    """Outputs (…, B, T, 1); with ``targets`` (B, T, 1) and ``squared_weights`` (T,), also the members'
    losses (…) as :func:`weighted_squared_error` gives them, computed in the same compiled call; and,
    when ``keep``, what the backward pass needs (the losses' gradient with respect to the outputs too).
    ``parameters`` as the model holds them: contiguous, they are already the per-member arrays of
    :func:`as_members`, so no reshape is needed. The linear activation runs through its kernels and a
    convolution."""
    library = compiled_library()
    outputs = _outputs_for(inputs, parameters[4])
    inputs = inputs.contiguous()
    input_weight, input_bias, feedback, output_weight, output_bias = (p.contiguous() for p in parameters)
    members, width, (batch, length, _) = output_bias.numel(), input_weight.shape[-1], inputs.shape
    diagonal, threads = int(feedback.dim() == input_weight.dim()), torch.get_num_threads()
    addresses = map(
        _address, (inputs, input_weight, input_bias, feedback, output_weight, output_bias, outputs)
    )
    losses, grad_outputs = None, None
    if targets is not None:
        targets, squared_weights = targets.contiguous(), squared_weights.contiguous()
        losses = outputs.new_empty(output_bias.shape[:-1])
        grad_outputs = _pooled(outputs.numel()) if keep else None
    loss_addresses = map(_address, (targets, squared_weights, grad_outputs, losses))
    activations = None
    if activation == "linear":
        if keep:  # those of the impulse responses: 2E members of one sequence
            activations = _pooled(library.recurrence_activations_size(2 * members, 1, length, width))
        failed = library.linear_forward(
            members, batch, length, width, diagonal, dt, *addresses, _address(activations), *loss_addresses,
            threads,
        )  # fmt: skip
    else:
        if keep:
            activations = _pooled(library.recurrence_activations_size(members, batch, length, width))
        failed = library.recurrence_forward(
            members, batch, length, width, ACTIVATION_CODES[activation], diagonal, dt, *addresses,
            _address(activations), *loss_addresses, threads,
        )  # fmt: skip
    if failed:
        raise MemoryError(f"the compiled {activation} forward pass could not allocate its scratch memory")
    return outputs, losses, (inputs, feedback, output_weight, activations, grad_outputs)


def _backward(
    saved: tuple, grad_outputs: Tensor | None, dt: float, activation: str, out: Tensor | None
) -> Tensor:
    """The gradients of [U, b, feedback, c, c0] as one row per member (E, 3m + |feedback| + 1), into ``out``
    when given, from the compiled backward pass over ``saved`` (as from :func:`_forward`) of
    ``grad_outputs``, or where None of the losses the forward pass computed; the buffers go back to the
    pool, so ``saved`` is spent afterwards."""
    library = compiled_library()
    inputs, feedback, output_weight, activations, grad_losses = saved
    grad_outputs = grad_losses if grad_outputs is None else grad_outputs.contiguous()
    width, (batch, length, _) = output_weight.shape[-1], inputs.shape
    members, diagonal = output_weight.numel() // width, int(feedback.dim() == output_weight.dim())
    row = 4 * width + 1 if diagonal else (3 + width) * width + 1
    gradients = inputs.new_empty(members, row) if out is None else out
    if gradients.shape != (members, row) or not gradients.is_contiguous():
        raise ValueError(
            f"gradients go into a contiguous ({members}, {row}) tensor, not {[*gradients.shape]}"
        )
    addresses = map(_address, (inputs, feedback, output_weight, grad_outputs, activations, gradients))
    threads = torch.get_num_threads()
    if activation == "linear":
        failed = library.linear_backward(members, batch, length, width, diagonal, dt, *addresses, threads)
    else:
        failed = library.recurrence_backward(
            members, batch, length, width, ACTIVATION_CODES[activation], diagonal, dt, *addresses, threads
        )
    if failed:
        raise MemoryError(f"the compiled {activation} backward pass could not allocate its scratch memory")
    for buffer in (activations, grad_losses):
        if buffer is not None:
            _FREE_BUFFERS.setdefault(buffer.numel(), []).append(buffer)
    return gradients


def split_gradients(gradients: Tensor, shapes: list[torch.Size]) -> list[Tensor]:
    """The gradients [U, b, feedback, c, c0] in the parameters' ``shapes`` from the compiled code's rows
    (E, 3m + |feedback| + 1)."""
    members = len(shapes[4]) - 1  # the ensemble's dimensions: c0 is (…, 1)
    sizes = [math.prod(shape[members:]) for shape in shapes]
    return [part.reshape(shape) for part, shape in zip(gradients.split(sizes, dim=1), shapes, strict=True)]


def _pullback(saved: tuple, dt: float, activation: str) -> Callable[..., Tensor]:
    """``pullback(grad_outputs=None, out=None)``: :func:`_backward` over ``saved``, once (it recycles the
    buffers the forward pass kept, so a second call is refused)."""
    spent = []

    def pullback(grad_outputs: Tensor | None = None, out: Tensor | None = None) -> Tensor:
        if spent:
            raise RuntimeError("a first backward pass released the compiled recurrence's saved activations")
        spent.append(True)
        return _backward(saved, grad_outputs, dt, activation, out)

    return pullback


def outputs_and_pullback(
    inputs: Tensor, parameters: list[Tensor], dt: float, activation: str
) -> tuple[Tensor, Callable[..., Tensor]]:
    """Outputs (…, B, T, 1) for inputs (B, T, 1) and ``parameters`` = [U, b, feedback, c, c0] as the model
    holds them (see :func:`as_members`), and their pullback: ``pullback(grad_outputs, out=None)`` takes the
    outputs' gradient to the parameters' as rows (E, 3m + |feedback| + 1) (:func:`split_gradients` shapes
    them), written into ``out`` when given, by the compiled backward pass. It runs once."""
    outputs, _, saved = _forward(inputs, parameters, dt, activation, keep=True)
    return outputs, _pullback(saved, dt, activation)


def loss_and_pullback(
    inputs: Tensor,
    parameters: list[Tensor],
    dt: float,
    activation: str,
    targets: Tensor,
    squared_weights: Tensor,
) -> tuple[Tensor, Callable[..., Tensor]]:
    """The members' losses (…) of their outputs for inputs (B, T, 1) against ``targets`` (B, T, 1), weighted
    as :func:`weighted_squared_error` (the training loss), in the forward pass's compiled call; and
    their pullback ``pullback(out=None)``: the gradient rows of the losses' sum, as
    :func:`outputs_and_pullback`'s. It runs once."""
    _, losses, saved = _forward(inputs, parameters, dt, activation, True, targets, squared_weights)
    return losses, _pullback(saved, dt, activation)


def recurrence_outputs(inputs: Tensor, parameters: list[Tensor], dt: float, activation: str) -> Tensor:
    """Outputs (…, B, T, 1) for inputs (B, T, 1) and ``parameters`` = [U, b, feedback, c, c0] as the model
    holds them (see :func:`as_members`); differentiable in the parameters when grad mode asks for it."""
    if torch.is_grad_enabled() and any(p.requires_grad for p in parameters):
        return CompiledRecurrence.apply(inputs, dt, activation, *parameters)
    return _forward(inputs, parameters, dt, activation, keep=False)[0]


class CompiledRecurrence(torch.autograd.Function):
    """Outputs (…, B, T, 1) of the members' parameter sets on shared inputs (B, T, 1), with the backward of
    recurrence.c (:func:`outputs_and_pullback`). Parameters as the model holds them (see
    :func:`as_members`); no gradient flows to the inputs."""

    @staticmethod
    def forward(ctx, inputs, dt, activation, *parameters):
        outputs, ctx.pullback = outputs_and_pullback(inputs, list(parameters), dt, activation)
        ctx.shapes = [parameter.shape for parameter in parameters]
        return outputs

    @staticmethod
    def backward(ctx, grad_outputs):
        return (None, None, None, *split_gradients(ctx.pullback(grad_outputs), ctx.shapes))


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


def rotated_pullback(
    rotation: Tensor,
    eigenvalues: Tensor,
    grad_feedback: Tensor,
    slope: float,
    vector: Tensor,
    grad_rotation: Tensor,
    grad_eigenvalues: Tensor,
) -> None:
    """Through ``Ŵ = Pᵀ diag(g) P``, from ``∂L/∂Ŵ = G + slope · v vᵀ`` (``grad_feedback`` G (m, m), ``v`` =
    ``vector``): ``∂L/∂P = diag(g) P (G + Gᵀ + 2 slope v vᵀ)`` into ``grad_rotation`` (laid out as ``P``)
    and ``∂L/∂g_i = (P G Pᵀ)_ii + slope (P v)_i²`` into ``grad_eigenvalues``, in one compiled call."""
    if grad_rotation.stride() != rotation.stride() or not grad_eigenvalues.is_contiguous():
        raise ValueError("∂L/∂P goes into a tensor laid out as P, ∂L/∂g into a contiguous one")
    failed = compiled_library().rotated_pullback(
        rotation.shape[0], rotation.data_ptr(), *rotation.stride(), eigenvalues.contiguous().data_ptr(),
        grad_feedback.contiguous().data_ptr(), slope, vector.contiguous().data_ptr(),
        grad_rotation.data_ptr(), grad_eigenvalues.data_ptr(),
    )  # fmt: skip
    if failed:
        raise MemoryError("rotated_pullback could not allocate its scratch memory")


@functools.cache
def _lapack_eigensolver() -> int | None:
    """The address of LAPACK's ``dsyevd`` as torch's CPU library resolves it (the routine
    ``torch.linalg.eigh`` calls), or None where it is not found."""
    directory = Path(torch.__file__).parent / "lib"
    for name in ("libtorch_cpu.so", "libtorch_cpu.dylib"):
        try:
            return ctypes.cast(ctypes.CDLL(str(directory / name)).dsyevd_, ctypes.c_void_p).value
        except (OSError, AttributeError):
            continue
    return None


def smallest_eigenpair(matrix: Tensor) -> tuple[float, Tensor]:
    """The smallest eigenvalue of the symmetric (m, m) ``matrix`` (its lower triangle read) and its unit
    eigenvector, as ``torch.linalg.eigh`` gives them: where torch's LAPACK is found, the same ``dsyevd``
    call from compiled code (the same vector, also at a repeated eigenvalue), without eigh's
    per-call overhead (a fifth of a small model's training step); else eigh itself."""
    solver = _lapack_eigensolver()
    if solver is None or not available_for(matrix):
        values, vectors = torch.linalg.eigh(matrix)
        return values[0].item(), vectors[:, 0]
    value, vector = ctypes.c_double(), matrix.new_empty(matrix.shape[-1])
    info = compiled_library().smallest_eigenpair(
        matrix.shape[-1], matrix.contiguous().data_ptr(), solver, ctypes.byref(value), vector.data_ptr()
    )
    if info:
        raise torch.linalg.LinAlgError(f"dsyevd failed (info {info}) on the {tuple(matrix.shape)} matrix")
    return value.value, vector
