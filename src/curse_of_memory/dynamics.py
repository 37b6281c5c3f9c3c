"""Figure 11: tanh RNNs whose memory does not decay.

The paper's 2-D example uses ``W = [[1, 1], [−4, −3]]`` in the discrete tanh RNN
``h_{k+1} = tanh(h_k W + u x_k)`` (row-vector convention; ``torch.nn.RNN`` with ``weight_hh = Wᵀ``).
``W`` has the double eigenvalue −1, so the origin is only marginally stable and the map has a period-2
orbit through ≈ (1, 1) and (−1, −1): with the origin these are the attractors the paper names. (In the
column convention ``tanh(W h)`` the origin is the only attractor.) A step input pushes the state onto
the 2-cycle, so the memory function oscillates with period 2 and never decays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from curse_of_memory.memory import SequenceModel

#: The paper's 2-D recurrent matrix (Figure 11).
PAPER_WEIGHTS = ((1.0, 1.0), (-4.0, -3.0))


def tanh_map(states: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """One step without input: ``h ↦ tanh(h W)`` for states shaped (..., 2)."""
    return np.tanh(states @ weights)


def vector_field(states: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The increment ``Δh = tanh(h W) − h`` (the discrete ``dh/dt`` of the phase portrait)."""
    return tanh_map(states, weights) - states


def attractors(weights: np.ndarray, starts: np.ndarray, steps: int = 4000, decimals: int = 1) -> np.ndarray:
    """The distinct states (rounded) that ``starts`` reach after ``steps`` and ``steps + 1`` iterations.

    Both parities are kept so a period-2 orbit shows both of its points.
    """
    states = starts.copy()
    ends = []
    for step in range(steps + 1):
        states = tanh_map(states, weights)
        if step >= steps - 1:
            ends.append(np.round(states, decimals) + 0.0)
    return np.unique(np.concatenate(ends), axis=0)


def tanh_rnn(weights: np.ndarray, input_weights: np.ndarray, readout: np.ndarray) -> SequenceModel:
    """``h_{k+1} = tanh(h_k W + u x_k)``, ``y_k = cᵀ h_k`` as a sequence model (torch's RNN; torch is
    imported here alone, so that Figure 11's plot job, which draws the maps above, imports none)."""
    import torch
    from torch import nn

    from curse_of_memory.memory import as_sequence_model

    width = len(weights)
    rnn = nn.RNN(1, width, nonlinearity="tanh", bias=False, batch_first=True, dtype=torch.float64)
    linear = nn.Linear(width, 1, bias=False, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.as_tensor(np.asarray(weights).T))
        rnn.weight_ih_l0.copy_(torch.as_tensor(np.asarray(input_weights, dtype=float)[:, None]))
        linear.weight.copy_(torch.as_tensor(np.asarray(readout, dtype=float)[None, :]))
    return as_sequence_model(rnn, linear)


def random_tanh_weights(width: int, radius: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A Gaussian recurrent matrix of spectral radius ``radius``, input and readout weights (seeded)."""
    generator = np.random.default_rng(seed)
    weights = generator.standard_normal((width, width))
    weights *= radius / np.abs(np.linalg.eigvals(weights)).max()
    return weights, generator.standard_normal(width), generator.standard_normal(width) / np.sqrt(width)


def tail_ratio(memory: np.ndarray, tail: int) -> float:
    """Mean memory over the last ``tail`` steps relative to its maximum: ≈ 0 for a decaying memory."""
    return float(memory[-tail:].mean() / memory.max()) if memory.max() > 0 else 0.0
