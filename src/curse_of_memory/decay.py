"""How a memory function decays: exponential and power-law fits in log space.

An exponential memory ``M(t) ≈ A e^{−rate·t}`` is a straight line in (t, log M); a power law
``M(t) ≈ A (t+1)^{−power}`` is a straight line in (log(t+1), log M). Each fit is a least-squares line
over the window of times where the memory is resolved (``t ≥ start`` and ``M > floor · max M``, so
round-off of a decayed response does not bend the fit), and its quality is the R² of that line. The
paper's filtering claim (Figure 3) is that surviving teachers decay exponentially: the exponential
line fits better than the power law and its rate is positive.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Relative level below which a memory value counts as decayed to round-off.
RESOLVED_FLOOR = 1e-10


@dataclass(frozen=True)
class DecayFit:
    """A fitted line: ``log M ≈ intercept − slope · x`` with ``x = t`` or ``log(t+1)``; R² of the line."""

    slope: float
    intercept: float
    r_squared: float


def resolved_window(t: np.ndarray, memory: np.ndarray, start: float = 1.0) -> np.ndarray:
    """Mask of the times used by the fits: ``t ≥ start`` and memory above the round-off floor."""
    return (t >= start) & (memory > RESOLVED_FLOOR * memory.max()) & np.isfinite(memory)


def _line_fit(x: np.ndarray, log_memory: np.ndarray) -> DecayFit:
    if len(x) < 3:
        return DecayFit(np.nan, np.nan, np.nan)
    slope, intercept = np.polyfit(x, log_memory, 1)
    residual = log_memory - (intercept + slope * x)
    total = ((log_memory - log_memory.mean()) ** 2).sum()
    r_squared = 1.0 - (residual**2).sum() / total if total > 0 else 1.0
    return DecayFit(float(-slope), float(intercept), float(r_squared))


def exponential_fit(t: np.ndarray, memory: np.ndarray, start: float = 1.0) -> DecayFit:
    """``M(t) ≈ e^{intercept} e^{−slope·t}``: slope is the exponential decay rate."""
    window = resolved_window(t, memory, start)
    return _line_fit(t[window], np.log(memory[window]))


def power_law_fit(t: np.ndarray, memory: np.ndarray, start: float = 1.0) -> DecayFit:
    """``M(t) ≈ e^{intercept} (t+1)^{−slope}``: slope is the power of the decay."""
    window = resolved_window(t, memory, start)
    return _line_fit(np.log(t[window] + 1.0), np.log(memory[window]))


def decays_exponentially(t: np.ndarray, memory: np.ndarray, start: float = 1.0) -> bool:
    """The exponential line fits at least as well as the power law and has a positive rate."""
    exponential, power = exponential_fit(t, memory, start), power_law_fit(t, memory, start)
    return bool(exponential.slope > 0 and exponential.r_squared >= power.r_squared)
