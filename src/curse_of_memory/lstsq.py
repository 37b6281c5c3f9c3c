"""Figures 1 and 4: linear RNNs fitted to a memory ρ by least squares, then perturbed.

A width-m diagonal linear RNN ``dh/dt = −Λh + b x``, ``y = cᵀh`` has the kernel
``ρ̂(t) = Σ_i c_i b_i e^{−λ_i t}``. Its distance to the linear functional with memory ρ, as an operator on
inputs with ``‖x‖_∞ ≤ 1`` over the horizon ``t = 1..T``, is ``Σ_t |ρ(t) − ρ̂(t)|`` (dt = 1): that is the
error ``E_m(β)`` reported here.

**Fit (no gradient training).** Free rates by *variable projection*: for given rates the best
coefficients solve a linear least-squares problem, so only the m rates are searched (over
``log λ``, keeping them positive), minimising the ℓ2 residual on ``t = 1..T``. Chosen over the paper's
fixed-rate regression because it gives each width its best kernel, which is what the theory's
``E_m(0) → 0`` is about; the rates of a polynomial memory then drift toward 0 as m grows (the curse).
``b = 1`` and ``c`` carries the coefficients (any split gives the same kernel; this one keeps the input
weights at the size of the paper's initialisation).

**Perturbation (Definition 3.4, the authors' protocol).** Each weight tensor — the raw recurrent
parameter ``w``, the input weights ``b`` and the readout ``c`` — moves by ``β n/‖n‖_∞``, one direction
per draw, reused at every β. The rates are ``λ = g(w)`` with ``g`` from :data:`RATE_MAPS`: ``direct``
(``λ = w``; a perturbation can make a rate negative, an unstable mode), ``exp`` (``λ = e^w``) and
``softplus`` (``λ = log(1 + e^w)``), the stable reparameterisations of Figure 4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.optimize

from curse_of_memory.summary import MODEL_KEYS

#: ``parameterization → (g, g⁻¹)``: rates from raw recurrent parameters and back.
RATE_MAPS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "direct": (lambda w: w, lambda rates: rates),
    "exp": (np.exp, np.log),
    "softplus": (lambda w: np.logaddexp(0.0, w), lambda rates: rates + np.log(-np.expm1(-rates))),
}


@dataclass(frozen=True)
class KernelFit:
    """A fitted width-m kernel ``Σ c_i b_i e^{−λ_i t}`` (``b = 1``)."""

    rates: np.ndarray
    coefficients: np.ndarray


def basis(rates: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``e^{−λ_i t}`` as a (time, m) matrix; a negative rate is a growing mode."""
    with np.errstate(over="ignore"):
        return np.exp(-np.outer(t, rates))


def kernel(
    rates: np.ndarray, input_weights: np.ndarray, output_weights: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """The linear RNN's kernel ``ρ̂(t) = Σ_i c_i b_i e^{−λ_i t}``."""
    with np.errstate(over="ignore", invalid="ignore"):
        return basis(rates, t) @ (output_weights * input_weights)


def kernel_error(rho: np.ndarray, approximation: np.ndarray) -> float:
    """``Σ_t |ρ(t) − ρ̂(t)|``: the operator-norm distance for ``‖x‖_∞ ≤ 1`` (``inf`` if not finite)."""
    with np.errstate(over="ignore", invalid="ignore"):
        error = float(np.abs(rho - approximation).sum())
    return error if np.isfinite(error) else np.inf


#: Singular values of the basis below this fraction of the largest are dropped when solving for ``c``.
COEFFICIENT_RCOND = 1e-8


def _coefficients(rates: np.ndarray, t: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Minimum-norm least-squares coefficients for fixed rates (truncated SVD: near-duplicate rates
    would otherwise get huge cancelling coefficients, a fit no perturbation analysis can trust)."""
    return np.linalg.lstsq(basis(rates, t), rho, rcond=COEFFICIENT_RCOND)[0]


def fit_kernel(rho: np.ndarray, t: np.ndarray, width: int) -> KernelFit:
    """The least-squares width-``width`` kernel for ``ρ`` sampled at ``t`` (variable projection).

    Starts from rates spread geometrically over ``[1/t_max, 1]`` (the time scales the horizon can see).
    """

    def residual(log_rates: np.ndarray) -> np.ndarray:
        rates = np.exp(log_rates)
        return basis(rates, t) @ _coefficients(rates, t, rho) - rho

    start = np.log(np.geomspace(1.0 / t.max(), 1.0, width))
    solution = scipy.optimize.least_squares(
        residual, start, xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=5000
    )
    rates = np.exp(solution.x)
    order = np.argsort(rates)
    rates = rates[order]
    return KernelFit(rates=rates, coefficients=_coefficients(rates, t, rho))


def perturbation_errors(
    fit: KernelFit,
    rho: np.ndarray,
    t: np.ndarray,
    parameterization: str,
    betas: np.ndarray,
    draws: int,
    seed: int,
) -> list[dict]:
    """Rows ``{beta, draw, error}``: the kernel error of the fit perturbed by β along each draw.

    β = 0 is evaluated once. Draw ``d`` uses the generator ``seed · 1_000_003 + d`` for its three
    directions (recurrent, input, output), as :func:`curse_of_memory.perturbation.noise_directions`.
    """
    rate_map, inverse = RATE_MAPS[parameterization]
    raw = inverse(fit.rates)
    input_weights, output_weights = np.ones_like(fit.rates), fit.coefficients
    rows = []
    for draw in range(draws):
        generator = np.random.default_rng(seed * 1_000_003 + draw)
        noise = generator.standard_normal((3, len(raw)))
        directions = noise / np.abs(noise).max(axis=1, keepdims=True)
        for beta in betas:
            if beta == 0 and draw > 0:
                continue
            approximation = kernel(
                rate_map(raw + beta * directions[0]),
                input_weights + beta * directions[1],
                output_weights + beta * directions[2],
                t,
            )
            rows.append({"beta": float(beta), "draw": draw, "error": kernel_error(rho, approximation)})
    return sorted(rows, key=lambda row: (row["beta"], row["draw"]))


def study_tables(
    memories: dict[str, np.ndarray],
    t: np.ndarray,
    widths: list[int],
    parameterizations: list[str],
    betas: np.ndarray,
    draws: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole least-squares study: (draw rows, fitted modes), in the summaries' tidy layout.

    ``memories`` maps a target name to ρ sampled at ``t``. Draw rows carry the model keys with
    ``study = lstsq``, ``activation = linear``, ``seed = 0``; mode rows hold each fit's rates and
    coefficients, its error ``E_m(0)``, the zero kernel's error ``Σ|ρ|`` (``null_error``) and the smallest
    rate (``stability_margin``), which do not depend on the parameterisation.
    """
    draw_rows, mode_rows = [], []
    for target, rho in memories.items():
        for width in widths:
            fit = fit_kernel(rho, t, width)
            keys = {"study": "lstsq", "target": target, "activation": "linear", "width": width, "seed": 0}
            fit_error = kernel_error(rho, kernel(fit.rates, np.ones(width), fit.coefficients, t))
            for mode, (rate, coefficient) in enumerate(zip(fit.rates, fit.coefficients, strict=True)):
                mode_rows.append(
                    {
                        **keys,
                        "mode": mode,
                        "rate": rate,
                        "coefficient": coefficient,
                        "error_at_zero": fit_error,
                        "null_error": float(np.abs(rho).sum()),
                        "stability_margin": float(fit.rates.min()),
                    }
                )
            for parameterization in parameterizations:
                for row in perturbation_errors(fit, rho, t, parameterization, betas, draws, seed):
                    draw_rows.append({**keys, "parameterization": parameterization, **row})
    return pd.DataFrame(draw_rows)[[*MODEL_KEYS, "beta", "draw", "error"]], pd.DataFrame(mode_rows)
