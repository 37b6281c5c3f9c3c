"""The authors' temporal loss weights, in numpy: the summaries weight the zero predictor's error as the
models were trained without importing torch (:func:`curse_of_memory.loss.temporal_weights` is these
weights as a tensor)."""

from __future__ import annotations

import numpy as np


def temporal_weights(length: int, power: float) -> np.ndarray:
    """``w_k = ((k+1)/(T+1))^power`` for k = 0..T−1, normalised so that ``Σ w_k = T``."""
    weights = ((np.arange(length, dtype=np.float64) + 1) / (length + 1)) ** power
    return weights * (length / weights.sum())
