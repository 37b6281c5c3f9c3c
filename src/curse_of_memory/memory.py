"""Memory functions of any causal, time-homogeneous sequence model (Definition 3.1, Appendix F/H).

A *sequence model* here is any callable mapping a float64 tensor (batch, time, 1) to
(batch, time, 1) causally: the pipeline's :class:`~curse_of_memory.models.RNN`, a
:class:`~curse_of_memory.targets.LinearFunctional`, or a user's wrapped torch module.

Heaviside definition: with ``u_k = x·1[k ≥ 0]`` and ``y^x`` the response,
``M(t_k) = sup_x |Δ_k (y^x − y^0)| / (|x| dt)`` where ``Δ_k z = z_k − z_{k−1}`` and ``z_{−1} = 0``.
Impulse definition: with ``i_k = (x/dt)·1[k = 0]`` (unit area), ``M(t_k) = sup_x |y^x_k − y^0_k| / |x|``.
The sup runs over a set of amplitudes (both signs matter for nonlinear maps). Subtracting the
zero-input response ``y^0`` removes the drift of a model relaxing from ``h_0 = 0`` to its rest
state, which is not memory of the input. For the linear functional ``y_k = dt Σ ρ(s dt) x_{k−s}``
both definitions give ``|ρ(t_k)|`` exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

SequenceModel = Callable[[Tensor], Tensor]


@torch.no_grad()
def _responses(model: SequenceModel, inputs: Tensor) -> Tensor:
    """Responses to ``inputs`` minus the zero-input response, as (amplitudes, time)."""
    zero = torch.zeros_like(inputs[:1])
    outputs = model(torch.cat([zero, inputs]))[..., 0]
    return outputs[1:] - outputs[:1]


def _amplitude_column(amplitudes: Sequence[float]) -> Tensor:
    values = torch.as_tensor(np.asarray(amplitudes, dtype=float), dtype=torch.float64)
    if values.numel() == 0 or bool((values == 0).any()):
        raise ValueError(f"amplitudes must be a non-empty list of non-zero numbers, got {amplitudes}")
    return values[:, None]


def heaviside_memory(model: SequenceModel, length: int, dt: float, amplitudes: Sequence[float]) -> np.ndarray:
    """``M(t_k)``, k = 0..length−1, from Heaviside inputs (Definition 3.1), max over amplitudes."""
    scale = _amplitude_column(amplitudes)
    responses = _responses(model, (scale * torch.ones(1, length, dtype=torch.float64))[..., None])
    increments = torch.diff(responses, dim=1, prepend=torch.zeros_like(responses[:, :1]))
    return (increments.abs() / (scale.abs() * dt)).amax(dim=0).numpy()


def impulse_memory(model: SequenceModel, length: int, dt: float, amplitudes: Sequence[float]) -> np.ndarray:
    """``M(t_k)``, k = 0..length−1, from unit-area impulse inputs (Appendix F), max over amplitudes."""
    scale = _amplitude_column(amplitudes)
    impulse = torch.zeros(1, length, dtype=torch.float64)
    impulse[0, 0] = 1.0 / dt
    responses = _responses(model, (scale * impulse)[..., None])
    return (responses.abs() / scale.abs()).amax(dim=0).numpy()


def as_sequence_model(
    module: torch.nn.Module, readout: Callable[[Tensor], Tensor] | None = None
) -> SequenceModel:
    """Wrap any causal torch sequence module as a (batch, time, 1) → (batch, time, 1) float64 callable.

    Handles ``batch_first=False`` modules (torch's RNN/GRU/LSTM default) and modules returning a tuple
    (the output first, as torch's recurrent modules do); ``readout`` maps the output features
    (batch, time, features) to one output channel, e.g. a ``torch.nn.Linear(features, 1)``.
    """
    batch_first = getattr(module, "batch_first", True)
    parameter = next(module.parameters(), None)
    dtype = parameter.dtype if parameter is not None else torch.float64

    def model(inputs: Tensor) -> Tensor:
        sequence = inputs.to(dtype) if batch_first else inputs.to(dtype).transpose(0, 1)
        outputs = module(sequence)
        outputs = outputs[0] if isinstance(outputs, tuple) else outputs
        outputs = outputs if batch_first else outputs.transpose(0, 1)
        if readout is not None:
            outputs = readout(outputs)
        if outputs.shape[-1] != 1:
            raise ValueError(
                f"the model returns {outputs.shape[-1]} output features; pass readout= to map them to one"
            )
        return outputs.to(torch.float64)

    return model


MEMORY_DEFINITIONS: dict[str, Callable[..., np.ndarray]] = {
    "heaviside": heaviside_memory,
    "impulse": impulse_memory,
}


def definition_agreement(heaviside: np.ndarray, impulse: np.ndarray) -> dict[str, float]:
    """How closely two memory functions of one model agree (Figure 10).

    ``relative_l1_difference = Σ|M_H − M_I| / Σ M_H`` (0 when equal, as for every linear model) and
    ``log_correlation``: the Pearson correlation of ``log M_H`` and ``log M_I`` over the times where both
    are above round-off (1 when the curves have the same shape on the paper's log axes).
    """
    difference = float(np.abs(heaviside - impulse).sum() / heaviside.sum())
    resolved = (heaviside > 1e-12 * heaviside.max()) & (impulse > 1e-12 * impulse.max())
    if resolved.sum() < 3:
        return {"relative_l1_difference": difference, "log_correlation": float("nan")}
    correlation = float(np.corrcoef(np.log(heaviside[resolved]), np.log(impulse[resolved]))[0, 1])
    return {"relative_l1_difference": difference, "log_correlation": correlation}
