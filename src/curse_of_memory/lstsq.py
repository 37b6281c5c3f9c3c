"""Figures 1 and 4: linear RNNs fitted to a memory ρ by least squares, then perturbed.

A width-m diagonal linear RNN ``dh/dt = −Λh + b x``, ``y = cᵀh`` has the kernel
``ρ̂(t) = Σ_i c_i b_i e^{−λ_i t}``. Its distance to the linear functional with memory ρ, as an operator on
inputs with ``‖x‖_∞ ≤ 1`` over the horizon ``t = 1..T``, is ``Σ_t |ρ(t) − ρ̂(t)|`` (dt = 1): that is the
error ``E_m(β)`` reported here.

**Fit (no gradient training)**, two constructions (``lstsq.fit``):

* ``regression`` (default; the paper's Appendix D, *fixed-rate linear regression*): the rates are fixed
  on the grid ``λ_i = i/τ``, ``i = 1..m`` (``τ`` = ``lstsq.regression.time_scale``), so with
  ``s = e^{−t/τ}`` the kernel is the polynomial ``Σ_i c_i s^i`` and fitting it to ``ρ`` is linear least
  squares in ``c`` (the ℓ2 residual on ``t = 1..T``, solved by SVD with cut-off ``rcond``). The paper
  does not state ``τ``; docs/lstsq.md compares the readings (``τ = 1``, the literal one, cannot fit
  ``0.9^t`` at all) and explains the default.
* ``free_rates`` (ours): the rates are searched too, by *variable projection* (for given rates the best
  coefficients solve the linear problem, so only the m rates are optimised, over ``log λ``). Each width
  gets its best kernel, so ``0.9^t`` is fitted to round-off at every width.

``b = 1`` and ``c`` carries the coefficients (any split gives the same kernel; this one keeps the input
weights at the size of the paper's initialisation).

**Perturbation (Definition 3.4, the authors' protocol).** Each perturbed weight block moves by
``β n/‖n‖``, one direction per draw, reused at every β: with ``lstsq.perturbed: all`` the raw recurrent
parameter ``w``, the input weights ``b`` and the readout ``c`` (Definition 3.4's θ), with ``rates`` ``w``
alone. ``‖·‖`` is the authors' max norm, or with ``lstsq.norm: spectral`` the 2-norm (a vector's
spectral norm), so that each block lies on the sphere of Definition 3.4's ball.
The rates are ``λ = g(w)`` with ``g`` from :data:`RATE_MAPS`: ``direct``
(``λ = w``; a perturbation can make a rate negative, an unstable mode), ``exp`` (``λ = e^w``) and
``softplus`` (``λ = log(1 + e^w)``), the stable reparameterisations of Figure 4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.optimize

from curse_of_memory.design import MODEL_KEYS
from curse_of_memory.stability import beta_grid, crossing_beta, crossings, error_curve

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


#: Singular values of the basis below this fraction of the largest are dropped when solving for ``c``
#: in the free-rates search.
COEFFICIENT_RCOND = 1e-8


def _coefficients(rates: np.ndarray, t: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Minimum-norm least-squares coefficients for fixed rates (truncated SVD: near-duplicate rates
    would otherwise get huge cancelling coefficients, a fit no perturbation analysis can trust)."""
    return np.linalg.lstsq(basis(rates, t), rho, rcond=COEFFICIENT_RCOND)[0]


def regression_rates(width: int, time_scale: float) -> np.ndarray:
    """The fixed rate grid of the regression construction: ``λ_i = i/τ``, ``i = 1..width``."""
    return np.arange(1, width + 1, dtype=float) / time_scale


def fit_regression(
    rho: np.ndarray, t: np.ndarray, width: int, time_scale: float, rcond: float | None = None
) -> KernelFit:
    """The paper's fixed-rate linear regression: rates :func:`regression_rates`, coefficients the
    least-squares solution (SVD; singular values below ``rcond`` × the largest dropped, None: numpy's
    machine-precision cut-off)."""
    rates = regression_rates(width, time_scale)
    return KernelFit(rates=rates, coefficients=np.linalg.lstsq(basis(rates, t), rho, rcond=rcond)[0])


def fit_free_rates(rho: np.ndarray, t: np.ndarray, width: int) -> KernelFit:
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


def fit_kernel(rho: np.ndarray, t: np.ndarray, width: int, settings: dict) -> KernelFit:
    """The width-``width`` kernel by the construction ``settings["fit"]`` (an ``lstsq`` config section)."""
    if settings["fit"] == "regression":
        regression = settings["regression"]
        return fit_regression(rho, t, width, regression["time_scale"], regression["rcond"])
    return fit_free_rates(rho, t, width)


#: Which of the (recurrent, input, output) blocks each ``lstsq.perturbed`` setting moves.
PERTURBED_BLOCKS = {"all": np.array([1.0, 1.0, 1.0]), "rates": np.array([1.0, 0.0, 0.0])}


def unit_directions(noise: np.ndarray, norm: str) -> np.ndarray:
    """Each row of ``noise`` scaled to unit ``norm``: ``max`` (the authors' ``n/‖n‖_∞``) or ``spectral``
    (the 2-norm, a vector's spectral norm: Definition 3.4's block norm)."""
    if norm == "max":
        return noise / np.abs(noise).max(axis=1, keepdims=True)
    return noise / np.linalg.norm(noise, axis=1, keepdims=True)


def perturbation_errors(
    fit: KernelFit,
    rho: np.ndarray,
    t: np.ndarray,
    parameterization: str,
    betas: np.ndarray,
    draws: int,
    seed: int,
    perturbed: str = "all",
    norm: str = "max",
) -> list[dict]:
    """Rows ``{beta, draw, error}``: the kernel error of the fit perturbed by β along each draw.

    β = 0 is evaluated once. Draw ``d`` uses the generator ``seed · 1_000_003 + d`` for its three
    directions (recurrent, input, output), as :func:`curse_of_memory.perturbation.noise_directions`;
    ``perturbed`` (:data:`PERTURBED_BLOCKS`) says which of them move, ``norm`` how they are scaled.
    """
    rate_map, inverse = RATE_MAPS[parameterization]
    raw = inverse(fit.rates)
    input_weights, output_weights = np.ones_like(fit.rates), fit.coefficients
    rows = []
    for draw in range(draws):
        generator = np.random.default_rng(seed * 1_000_003 + draw)
        noise = generator.standard_normal((3, len(raw)))
        directions = unit_directions(noise, norm) * PERTURBED_BLOCKS[perturbed][:, None]
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


def unfitted(fit: KernelFit) -> KernelFit:
    """The kernel before its fit: the same rates with zero readout, where the least-squares solve
    starts (the claims' negative control)."""
    return KernelFit(fit.rates, np.zeros_like(fit.coefficients))


def study_tables(
    memories: dict[str, np.ndarray], t: np.ndarray, settings: dict, before_fitting: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The whole least-squares study: (draw rows, fitted modes), in the summaries' tidy layout.

    ``memories`` maps a target name to ρ sampled at ``t``; ``settings`` is the ``lstsq`` config section
    (widths, parameterizations, betas, draws, seeds, the construction and the perturbed blocks). Draw
    rows carry the model keys with ``study = lstsq``, ``activation = linear`` and the perturbation seed
    as ``seed`` (one replicate per seed; the fit itself is deterministic); mode rows hold each fit's rates
    and coefficients, its error ``E_m(0)``, the zero kernel's error ``Σ|ρ|`` (``null_error``) and the
    smallest rate (``stability_margin``), which do not depend on the parameterisation or the seed.
    ``before_fitting`` perturbs the :func:`unfitted` kernels instead.
    """
    betas = beta_grid(**settings["betas"])
    draw_rows, mode_rows = [], []
    for target, rho in memories.items():
        for width in settings["widths"]:
            fit = fit_kernel(rho, t, width, settings)
            fit = unfitted(fit) if before_fitting else fit
            fit_error = kernel_error(rho, kernel(fit.rates, np.ones(width), fit.coefficients, t))
            for seed in settings["seeds"]:
                keys = {
                    "study": "lstsq",
                    "target": target,
                    "activation": "linear",
                    "width": width,
                    "seed": seed,
                }
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
                for parameterization in settings["parameterizations"]:
                    rows = perturbation_errors(
                        fit, rho, t, parameterization, betas, settings["draws"], seed,
                        settings["perturbed"], settings["norm"],
                    )  # fmt: skip
                    draw_rows += [{**keys, "parameterization": parameterization, **row} for row in rows]
    return pd.DataFrame(draw_rows)[[*MODEL_KEYS, "beta", "draw", "error"]], pd.DataFrame(mode_rows)


#: The constructions compared by :func:`constructions_table`: every fit × every perturbed-block setting.
CONSTRUCTIONS = [(fit, perturbed) for fit in ("regression", "free_rates") for perturbed in PERTURBED_BLOCKS]


def _single_draw_curves(draws: pd.DataFrame) -> dict[int, pd.Series]:
    """Per draw, its own ``E_m(β)`` curve (the unperturbed error, then that draw's running max)."""
    unperturbed = draws[draws["beta"] == 0]
    return {
        draw: error_curve(pd.concat([unperturbed, one]))
        for draw, one in draws[draws["beta"] > 0].groupby("draw")
    }


def constructions_table(memories: dict[str, np.ndarray], t: np.ndarray, settings: dict) -> pd.DataFrame:
    """Figures 1 and 4 under every construction (:data:`CONSTRUCTIONS`), one row per (fit, perturbed,
    target, parameterization, consecutive width pair): both widths' ``E_m(0)``, the crossing point of the
    max-over-draws curves (as the figures), and the median, min and max over draws of each single draw's
    crossing (its own running-max curve): the spread of a crossing over perturbation directions."""
    rows = []
    for fit_name, perturbed in CONSTRUCTIONS:
        # one replicate: the spread over directions is read per draw
        variant = {**settings, "fit": fit_name, "perturbed": perturbed, "seeds": settings["seeds"][:1]}
        draws, _ = study_tables(memories, t, variant)
        for (target, parameterization), family in draws.groupby(["target", "parameterization"], sort=False):
            curves = {int(w): error_curve(d) for w, d in family.groupby("width")}
            by_draw = {int(w): _single_draw_curves(d) for w, d in family.groupby("width")}
            for pair in crossings(curves):
                small, large = pair["width_small"], pair["width_large"]
                single = np.array(
                    [crossing_beta(by_draw[small][k], by_draw[large][k]).value for k in by_draw[small]]
                )
                finite = single[np.isfinite(single)]
                rows.append(
                    {
                        "fit": fit_name,
                        "perturbed": perturbed,
                        "target": target,
                        "parameterization": parameterization,
                        "width_small": small,
                        "width_large": large,
                        "error_at_zero_small": float(curves[small].iloc[0]),
                        "error_at_zero_large": float(curves[large].iloc[0]),
                        "crossing_beta": pair["crossing_beta"],
                        "draw_crossing_median": float(np.median(finite)) if len(finite) else np.nan,
                        "draw_crossing_min": float(finite.min()) if len(finite) else np.nan,
                        "draw_crossing_max": float(finite.max()) if len(finite) else np.nan,
                        "draws_crossed": len(finite),
                    }
                )
    return pd.DataFrame(rows)
