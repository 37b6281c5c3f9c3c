"""The model's fast path: the recurrence in torch ops on reused buffers, with its backward pass (BPTT)
derived by hand, so that no autograd graph is built per time step.

With row vectors, ``Ŵ`` dense (m, m) or its diagonal ``g`` (m,) (models.py)::

    h_0 = 0,   z_k = U x_k + b − h_k Ŵ,   h_{k+1} = h_k + dt σ(z_k),   ŷ_k = c · h_{k+1} + c0

and, for a loss with ``∂L/∂ŷ_k`` given, with ``δ_{k+1} = ∂L/∂h_{k+1}`` and ``d_k = ∂L/∂z_k``::

    δ_T = ∂L/∂ŷ_{T−1} c,   d_k = dt σ'(z_k) ⊙ δ_{k+1},   δ_k = δ_{k+1} − d_k Ŵᵀ + ∂L/∂ŷ_{k−1} c
    ∂L/∂U = Σ_k x_k d_k,   ∂L/∂b = Σ_k d_k,   ∂L/∂Ŵ = −Σ_k h_kᵀ d_k,   ∂L/∂c = Σ_k ∂L/∂ŷ_k h_{k+1}

summed over the batch too. σ' is read off the activation's output (``1 − σ²`` for tanh, ``|σ| < 1`` for
hardtanh, ``σ > 0`` for relu), so the forward pass keeps only the states and the activations. Every step
is three torch ops each way (a matrix product onto the step's slice of a reused buffer, σ or σ' in place,
an update), which the BLAS and torch's vectorised kernels run at whatever instruction set the CPU has; the
sums over time are matrix products over blocks of steps that are still in cache. A forward pass that keeps
no trace (:func:`stepped_outputs`: evaluation, perturbed ensembles) holds the states as columns (E, m, B)
instead of rows (E, B, m), as its products ``Ŵᵀ H`` and ``c H`` run faster that way and it needs no sums
over time. Parameters may carry an ensemble dimension E (members evaluated on shared inputs: batched
products). An activation without an entry in :data:`STEPPED` runs the model's autograd paths instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class SteppedActivation:
    """``σ(z) = scale · φ(gain · z) + offset`` with ``φ`` applied in place (σ itself by default), and
    ``dt · σ'(z)`` written in place over φ's output."""

    apply_: Callable[[Tensor], Tensor]
    scaled_derivative_: Callable[[Tensor, float], Tensor]
    gain: float = 1.0
    scale: float = 1.0
    offset: float = 0.0


def _tanh_derivative_(activations: Tensor, dt: float) -> Tensor:
    """``dt (1 − tanh²)`` from tanh."""
    return activations.square_().mul_(-dt).add_(dt)


def _logistic_tanh_derivative_(logistic: Tensor, dt: float) -> Tensor:
    """``dt tanh'(z) = 4 dt s (1 − s)`` from ``s = sigmoid(2z)``."""
    return logistic.sub_(logistic.square()).mul_(4 * dt)


def _hardtanh_derivative_(activations: Tensor, dt: float) -> Tensor:
    """``dt`` where −1 < z < 1 (|σ(z)| < 1), else 0: autograd's hardtanh backward, 0 at the kinks."""
    return activations.abs_().lt_(1.0).mul_(dt)


def _relu_derivative_(activations: Tensor, dt: float) -> Tensor:
    """``dt`` where z > 0 (σ(z) > 0), else 0: autograd's relu backward, 0 at the kink."""
    return activations.gt_(0.0).mul_(dt)


#: tanh as ``2 sigmoid(2z) − 1`` where torch's vectorised float64 sigmoid is faster than its tanh (on x86
#: with AVX2 or AVX-512, 2–3×; without vector kernels tanh is the faster one).
LOGISTIC_TANH = torch.backends.cpu.get_cpu_capability() in {"AVX2", "AVX512"}

#: The activations the fast path steps, by the name :data:`curse_of_memory.models.ACTIVATIONS` gives them
#: (the linear one runs as a convolution instead).
STEPPED: dict[str, SteppedActivation] = {
    "tanh": SteppedActivation(
        torch.Tensor.sigmoid_, _logistic_tanh_derivative_, gain=2.0, scale=2.0, offset=-1.0
    )
    if LOGISTIC_TANH
    else SteppedActivation(torch.Tensor.tanh_, _tanh_derivative_),
    "hardtanh": SteppedActivation(F.hardtanh_, _hardtanh_derivative_),
    "relu": SteppedActivation(torch.Tensor.relu_, _relu_derivative_),
}

#: State elements (members × batch × width, times steps) of one chunk: what is worked on together stays
#: in cache.
CHUNK_ELEMENTS = 1 << 18

#: Buffers returned by finished backward passes, by shape: reusing one spares the page faults of a fresh
#: allocation at every training step.
_FREE_BUFFERS: dict[tuple, list[Tensor]] = {}


def _buffer(shape: tuple[int, ...], like: Tensor) -> Tensor:
    """An uninitialised tensor of ``shape``, from the pool when a finished backward pass left one."""
    key = (shape, like.dtype, like.device)
    free = _FREE_BUFFERS.get(key)
    return free.pop() if free else like.new_empty(shape)


def _release(*buffers: Tensor) -> None:
    for buffer in buffers:
        _FREE_BUFFERS.setdefault((tuple(buffer.shape), buffer.dtype, buffer.device), []).append(buffer)


def available_for(activation: str, inputs: Tensor) -> bool:
    """Whether the fast path evaluates ``activation`` on these inputs (not inputs that need a gradient:
    it differentiates the parameters only)."""
    return activation in STEPPED and not inputs.requires_grad


def as_members(parameters: list[Tensor]) -> list[Tensor]:
    """[U, b, w_hat, c, c0] as the model holds them (U, b, c of shape (…, m), w_hat (…, m) when
    diagonal, else (…, m, m), c0 (…, 1), with … an optional ensemble dimension E) as per-member
    arrays (E, m), (E, m), (E, m) or (E, m, m), (E, m), (E,)."""
    width = parameters[0].shape[-1]
    w_hat_shape = (-1, width) if parameters[2].dim() == parameters[0].dim() else (-1, width, width)
    shapes = [(-1, width), (-1, width), w_hat_shape, (-1, width), (-1,)]
    return [parameter.reshape(shape) for parameter, shape in zip(parameters, shapes, strict=True)]


def _subtract_row_product_(out: Tensor, hidden: Tensor, matrix: Tensor) -> Tensor:
    """``out −= hidden M`` per member: rows of states, hidden (E, B, m), M (E, m, m)."""
    return out.baddbmm_(hidden, matrix, alpha=-1.0)


def _subtract_column_product_(out: Tensor, hidden: Tensor, matrix: Tensor) -> Tensor:
    """``out −= M hidden`` per member: columns of states, hidden (E, m, B), M (E, m, m)."""
    return out.baddbmm_(matrix, hidden, alpha=-1.0)


def _subtract_diagonal_product_(out: Tensor, hidden: Tensor, diagonal: Tensor) -> Tensor:
    """``out −= hidden ⊙ g`` per member, the diagonal ``g`` broadcast along the batch."""
    return out.addcmul_(hidden, diagonal, value=-1.0)


def _w_hat_operation(
    w_hat: Tensor, columns: bool = False, transposed: bool = False
) -> tuple[Callable[[Tensor, Tensor, Tensor], Tensor], Tensor]:
    """The in-place ``out −= hidden M`` (rows of states) or ``out −= M hidden`` (``columns``) with ``M`` the
    matrix ``Ŵ`` (E, m, m), or ``Ŵᵀ`` when ``transposed``, or its diagonal (E, m); and its operand."""
    if w_hat.dim() == 3:
        operand = w_hat.mT.contiguous() if transposed else w_hat
        return (_subtract_column_product_ if columns else _subtract_row_product_), operand
    return _subtract_diagonal_product_, w_hat[:, :, None] if columns else w_hat[:, None]


def _drives(steps: Tensor, input_weight: Tensor, input_bias: Tensor, out: Tensor) -> Tensor:
    """``U x_k + b`` into ``out`` (E, …, B, m) for inputs ``steps`` (…, B) (one step, or all steps)."""
    shape = (input_weight.shape[0],) + (1,) * (out.dim() - 2) + (input_weight.shape[1],)
    return torch.addcmul(input_bias.view(shape), steps[None, ..., None], input_weight.view(shape), out=out)


def _column_drives(step: Tensor, input_weight: Tensor, input_bias: Tensor, out: Tensor) -> Tensor:
    """``U x_k + b`` into ``out`` (E, m, B) for one step's inputs (B,): a product of (m, 1) by (1, B) per
    member, which the BLAS writes faster than the broadcast ``addcmul``."""
    members, width = input_weight.shape
    inputs = step.view(1, 1, -1).expand(members, 1, -1)
    return torch.baddbmm(
        input_bias.view(members, width, 1), input_weight.view(members, width, 1), inputs, out=out
    )


def _stepper(
    parameters: list[Tensor], dt: float, activation: str, columns: bool = False
) -> tuple[Tensor, Tensor, Callable]:
    """The drive's weights ``gain · U`` and ``gain · b`` and ``step(z, h, out)``: given the drives
    ``z = gain (U x_k + b)`` (E, B, m), or (E, m, B) with ``columns``, ``z ← φ(z − gain · h Ŵ)`` (what the
    backward pass reads σ' off) and ``out = h + dt σ(z_k)`` (``out`` may be ``h``)."""
    input_weight, input_bias, w_hat = parameters[:3]
    form = STEPPED[activation]
    gain, rate, shift = form.gain, dt * form.scale, dt * form.offset
    if gain != 1.0:
        input_weight, input_bias, w_hat = (gain * tensor for tensor in (input_weight, input_bias, w_hat))
    # rows: z −= h Ŵ; columns: z −= Ŵᵀ h
    apply_, (subtract_w_hat_, operand) = form.apply_, _w_hat_operation(w_hat, columns, columns)

    def step(drives: Tensor, hidden: Tensor, out: Tensor) -> None:
        apply_(subtract_w_hat_(drives, hidden, operand))
        torch.add(hidden, drives, alpha=rate, out=out)
        if shift:
            out.add_(shift)

    return input_weight, input_bias, step


@torch.no_grad()
def stepped_outputs(
    inputs: Tensor, parameters: list[Tensor], dt: float, activation: str, final_states: Tensor | None = None
) -> Tensor:
    """Outputs (E, B, T) for inputs (B, T, 1) and per-member ``parameters`` (:func:`as_members`), keeping
    one step's state: members and batch rows go in chunks of :data:`CHUNK_ELEMENTS`, which stay in
    cache through all steps. The states are held as columns (E, m, B), whose products ``Ŵᵀ H`` and
    ``c H`` the BLAS runs faster than the rows' at small widths (no trace is kept, so nothing needs the
    rows' sums over time). ``final_states`` (E, B, m), when given, receives the last states ``h_T``."""
    output_weight, output_bias = parameters[3:]
    members, width = output_weight.shape
    steps = inputs[..., 0].T.contiguous()  # (T, B)
    length, batch = steps.shape
    outputs = inputs.new_empty(members, batch, length)
    rows = max(1, CHUNK_ELEMENTS // width)
    member_chunk = max(1, min(members, rows // batch))
    batch_chunk = min(batch, rows)
    for first in range(0, members, member_chunk):
        chosen = slice(first, first + member_chunk)
        chunk_parameters = [p[chosen] for p in parameters]
        input_weight, input_bias, step = _stepper(chunk_parameters, dt, activation, columns=True)
        readout = output_weight[chosen, None, :]
        for start in range(0, batch, batch_chunk):
            rows_of = slice(start, start + batch_chunk)
            hidden = inputs.new_zeros(input_weight.shape[0], width, len(range(batch)[rows_of]))
            drives = torch.empty_like(hidden)
            # contiguous per step: bmm into a strided out falls back to a loop over the members
            chunk_outputs = hidden.new_empty(length, hidden.shape[0], 1, hidden.shape[2])
            for k in range(length):
                step(_column_drives(steps[k, rows_of], input_weight, input_bias, out=drives), hidden, hidden)
                torch.bmm(readout, hidden, out=chunk_outputs[k])
            outputs[chosen, rows_of] = chunk_outputs[:, :, 0].permute(1, 2, 0)
            if final_states is not None:
                final_states[chosen, rows_of] = hidden.mT
    return outputs + output_bias[:, None, None]


@dataclass
class Trace:
    """What the backward pass needs from a forward pass: inputs (T, B), states (E, T + 1, B, m),
    activations (E, T, B, m), the per-member parameters; its buffers go back to the pool after use."""

    steps: Tensor
    states: Tensor
    activations: Tensor
    parameters: list[Tensor]
    dt: float
    activation: str


def _blocks(members: int, length: int, batch: int, width: int) -> list[range]:
    """The steps in blocks of :data:`CHUNK_ELEMENTS` state elements: the sums over a block's steps run
    while its states and activations are in cache, instead of in passes over all of them."""
    size = max(1, CHUNK_ELEMENTS // (members * batch * width))
    return [range(start, min(start + size, length)) for start in range(0, length, size)]


def _flat(tensor: Tensor, block: range) -> Tensor:
    """A block of steps of a (E, T, B, m) tensor as (E, steps × B, m)."""
    return tensor[:, block.start : block.stop].reshape(tensor.shape[0], -1, tensor.shape[-1])


@torch.no_grad()
def traced_outputs(
    inputs: Tensor, parameters: list[Tensor], dt: float, activation: str
) -> tuple[Tensor, Trace]:
    """Outputs (E, B, T) as :func:`stepped_outputs`, keeping every state and activation for
    :func:`pullback`."""
    input_weight, input_bias, w_hat, output_weight, output_bias = parameters
    members, width = input_weight.shape
    steps = inputs[..., 0].T.contiguous()  # (T, B)
    length, batch = steps.shape
    states = _buffer((members, length + 1, batch, width), inputs)
    activations = _buffer((members, length, batch, width), inputs)
    outputs = inputs.new_empty(members, length, batch)
    states[:, 0].zero_()
    state, activated = states.unbind(1), activations.unbind(1)
    drive_weight, drive_bias, step = _stepper(parameters, dt, activation)
    readout = output_weight[:, :, None]
    for block in _blocks(members, length, batch, width):
        _drives(
            steps[block.start : block.stop],
            drive_weight,
            drive_bias,
            out=activations[:, block.start : block.stop],
        )
        for k in block:
            step(activated[k], state[k], state[k + 1])
        visited = _flat(states[:, 1:], block)
        outputs[:, block.start : block.stop] = torch.bmm(visited, readout).view(members, len(block), batch)
    outputs = outputs.transpose(1, 2) + output_bias[:, None, None]
    return outputs, Trace(steps, states, activations, parameters, dt, activation)


@torch.no_grad()
def pullback(
    trace: Trace, grad_outputs: Tensor | None, grad_final_state: Tensor | None = None
) -> list[Tensor]:
    """The gradients of [U, b, w_hat, c, c0] (per-member shapes, as :func:`as_members`) from the
    outputs' gradient (E, B, T) (None: the loss reads no output) plus, when given, the last state's
    ``∂L/∂h_T`` (E, B, m) added to ``δ_T``, by the recursion in the module docstring, block by block of
    steps backwards; the trace's buffers go back to the pool, so a trace is spent afterwards."""
    input_weight, input_bias, w_hat, output_weight, _ = trace.parameters
    subtract_w_hat_, transposed = _w_hat_operation(w_hat, transposed=True)  # δ −= d Ŵᵀ
    states, scaled = trace.states, trace.activations
    members, length, batch, width = scaled.shape
    reads_outputs = grad_outputs is not None
    if reads_outputs:
        grad_steps = grad_outputs.transpose(1, 2).contiguous()  # (E, T, B)
    else:
        grad_steps = states.new_zeros(members, length, batch)
    derivative_ = STEPPED[trace.activation].scaled_derivative_
    readout = output_weight[:, None, :]
    output_terms = grad_steps[..., None].unbind(1)
    grad_input_weight, grad_input_bias = torch.zeros_like(input_weight), torch.zeros_like(input_bias)
    grad_w_hat, grad_output_weight = torch.zeros_like(w_hat), torch.zeros_like(output_weight)
    delta = grad_steps[:, -1, :, None] * readout  # δ_T (E, B, m)
    if grad_final_state is not None:
        delta += grad_final_state
    gradient = scaled.unbind(1)
    for block in reversed(_blocks(members, length, batch, width)):
        derivative_(scaled[:, block.start : block.stop], trace.dt)
        for k in reversed(block):
            gradient[k].mul_(delta)  # d_k
            if k:
                subtract_w_hat_(delta, gradient[k], transposed)
                if reads_outputs:
                    delta.addcmul_(output_terms[k - 1], readout)
        flat, before = _flat(scaled, block), _flat(states[:, :-1], block)
        inputs = trace.steps[block.start : block.stop].reshape(1, 1, -1).expand(members, 1, -1)
        grad_input_weight += torch.bmm(inputs, flat)[:, 0]
        grad_input_bias += flat.sum(1)
        if w_hat.dim() == 2:
            grad_w_hat -= torch.linalg.vecdot(before, flat, dim=1)
        else:
            grad_w_hat.baddbmm_(before.mT, flat, alpha=-1.0)
        if reads_outputs:
            grad_block = grad_steps[:, block.start : block.stop].reshape(members, 1, -1)
            grad_output_weight += torch.bmm(grad_block, _flat(states[:, 1:], block))[:, 0]
    _release(trace.states, trace.activations)
    return [grad_input_weight, grad_input_bias, grad_w_hat, grad_output_weight, grad_steps.sum((1, 2))]


def _spend_trace(ctx) -> Trace:
    """The forward pass's trace, taken from ``ctx``: :func:`pullback` returns its buffers to the pool, so
    a second backward pass must fail instead of reading reused memory."""
    trace = ctx.trace
    if trace is None:
        raise RuntimeError("a first backward pass released the recurrence's saved states")
    ctx.trace = None
    return trace


def _as_held(ctx, gradients: list[Tensor]) -> tuple:
    """``backward``'s return: no gradient for inputs, dt and activation, then each parameter's gradient in
    the shape the model holds it."""
    return (None, None, None, *(g.reshape(s) for g, s in zip(gradients, ctx.shapes, strict=True)))


class SteppedRecurrence(torch.autograd.Function):
    """Outputs (…, B, T, 1) of the members' parameter sets on shared inputs (B, T, 1) with the
    hand-derived backward pass (:func:`pullback`); parameters as the model holds them (see
    :func:`as_members`), no gradient to the inputs. The backward pass runs once."""

    @staticmethod
    def forward(ctx, inputs, dt, activation, *parameters):
        outputs, ctx.trace = traced_outputs(inputs, as_members(list(parameters)), dt, activation)
        ctx.shapes = [parameter.shape for parameter in parameters]
        return outputs.reshape(*parameters[4].shape[:-1], *outputs.shape[1:], 1)

    @staticmethod
    def backward(ctx, grad_outputs):
        trace = _spend_trace(ctx)
        members = trace.parameters[0].shape[0]
        gradients = pullback(trace, grad_outputs.reshape(members, *grad_outputs.shape[-3:-1]))
        return _as_held(ctx, gradients)


def recurrence_outputs(inputs: Tensor, parameters: list[Tensor], dt: float, activation: str) -> Tensor:
    """Outputs (…, B, T, 1) for inputs (B, T, 1) and ``parameters`` = [U, b, w_hat, c, c0] as the model
    holds them; differentiable in the parameters (by :func:`pullback`) when grad mode asks for it."""
    if torch.is_grad_enabled() and any(p.requires_grad for p in parameters):
        return SteppedRecurrence.apply(inputs, dt, activation, *parameters)
    outputs = stepped_outputs(inputs, as_members(parameters), dt, activation)
    return outputs.reshape(*parameters[4].shape[:-1], *outputs.shape[1:], 1)


class SteppedFinalState(torch.autograd.Function):
    """The last states ``h_T`` (E, B, m) of the members' recurrences [U, b, w_hat] on shared inputs
    (B, T, 1), with the hand-derived backward pass (:func:`pullback` from ``∂L/∂h_T``): what a readout of
    the whole sequence (a classifier) differentiates. The backward pass runs once."""

    @staticmethod
    def forward(ctx, inputs, dt, activation, *parameters):
        _, ctx.trace = traced_outputs(inputs, _undecoded(list(parameters)), dt, activation)
        ctx.shapes = [parameter.shape for parameter in parameters]
        final = ctx.trace.states[:, -1].clone()  # the trace's buffers return to the pool after backward
        return final.reshape(*parameters[0].shape[:-1], *final.shape[1:])

    @staticmethod
    def backward(ctx, grad_final):
        trace = _spend_trace(ctx)
        members = trace.parameters[0].shape[0]
        gradients = pullback(trace, None, grad_final.reshape(members, *grad_final.shape[-2:]))[:3]
        return _as_held(ctx, gradients)


def final_states(inputs: Tensor, parameters: list[Tensor], dt: float, activation: str) -> Tensor:
    """The last states ``h_T`` (…, B, m) for inputs (B, T, 1) and ``parameters`` = [U, b, w_hat] as the
    model holds them; differentiable in the parameters (by :func:`pullback`) when grad mode asks for it."""
    if torch.is_grad_enabled() and any(p.requires_grad for p in parameters):
        return SteppedFinalState.apply(inputs, dt, activation, *parameters)
    members = _undecoded(parameters)
    final = inputs.new_empty(members[0].shape[0], inputs.shape[0], members[0].shape[1])
    stepped_outputs(inputs, members, dt, activation, final_states=final)
    return final.reshape(*parameters[0].shape[:-1], *final.shape[1:])


def _undecoded(parameters: list[Tensor]) -> list[Tensor]:
    """[U, b, w_hat] as the model holds them, per member (:func:`as_members`), with a zero decoder
    [c, c0] appended: the recurrence for its states alone."""
    input_weight = parameters[0]
    decoder = [torch.zeros_like(input_weight), input_weight.new_zeros(*input_weight.shape[:-1], 1)]
    return as_members([*parameters, *decoder])
