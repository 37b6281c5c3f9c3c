"""Figures from the tidy summary tables (matplotlib + seaborn); the style file is applied by callers.

Perturbation-error panels follow the paper's layout: log–log axes, one curve per width, β = 0 drawn
at the left edge (a tick labelled 0, two grid steps left of the smallest β) and non-finite errors
drawn on a line labelled ∞ at the top. So that the finite part of the curves stays readable, errors
more than ``10^INFINITY_DECADES`` times the largest unperturbed error of the panel are drawn on the
∞ line too (the tables keep every value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from curse_of_memory.artifacts import atomic_path
from curse_of_memory.stability import error_curve

#: Errors this many decades above a panel's largest E_m(0) are drawn on the ∞ line.
INFINITY_DECADES = 6


#: Memory functions below this value (round-off of a decayed response) are cut from the log axis.
MEMORY_FLOOR = 1e-12


def width_colors(widths: Sequence[int]) -> dict[int, tuple]:
    """One colour per width, light (small m) to dark (large m)."""
    palette = sns.color_palette("viridis_r", n_colors=max(len(widths), 2))
    return {width: palette[i] for i, width in enumerate(sorted(widths))}


def _zero_position(betas: np.ndarray) -> float:
    """Where β = 0 is drawn: two grid ratios left of the smallest positive β."""
    positive = np.sort(betas[betas > 0])
    ratio = positive[1] / positive[0] if len(positive) > 1 else 10.0
    return positive[0] / ratio**2


def plot_perturbation_panel(
    ax: plt.Axes,
    draws: pd.DataFrame,
    crossings: pd.DataFrame | None = None,
    colors: dict[int, tuple] | None = None,
) -> None:
    """``E_m(β)`` of one family (rows ``width, beta, draw, error``), one curve per width."""
    curves = {int(w): error_curve(group) for w, group in draws.groupby("width")}
    colors = colors or width_colors(list(curves))
    betas = np.array(sorted(draws["beta"].unique()))
    zero_x = _zero_position(betas)
    at_zero = max(float(curve.iloc[0]) for curve in curves.values())
    infinity_y = at_zero * 10**INFINITY_DECADES
    values = np.concatenate([curve.to_numpy() for curve in curves.values()])
    shown = values[np.isfinite(values) & (values > 0) & (values < infinity_y)]
    bottom = shown.min() if len(shown) else at_zero
    for width, curve in curves.items():
        x = np.where(curve.index.to_numpy() == 0, zero_x, curve.index.to_numpy())
        y = np.minimum(curve.to_numpy(), infinity_y)  # inf and blown-up errors sit on the ∞ line
        ax.plot(x, y, marker="o", color=colors[width], label=f"m = {width}")
    if crossings is not None:
        for row in crossings.itertuples():
            if np.isfinite(row.crossing_beta):
                ax.axvline(row.crossing_beta, color=colors[row.width_large], lw=0.8, ls=":")
    ax.axhline(infinity_y, color="0.5", lw=0.6, ls="--")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(bottom / 3, infinity_y * 3)
    ax.set_xlabel(r"perturbation $\beta$")
    ax.set_ylabel(r"perturbation error $E_m(\beta)$")
    positive_ticks = [t for t in ax.get_xticks() if betas[betas > 0].min() <= t <= betas.max()]
    ax.set_xticks([zero_x, *positive_ticks])
    ax.set_xticklabels(["0"] + [f"$10^{{{int(round(math.log10(t)))}}}$" for t in positive_ticks])
    ax.set_xlim(zero_x / 1.5, betas.max() * 1.5)
    ax.text(zero_x, infinity_y, r"$\infty$", ha="right", va="center", fontsize=9)


def perturbation_figure(
    perturbation: pd.DataFrame,
    crossings: pd.DataFrame,
    panels: Sequence[dict],
    columns: int,
    title: str,
) -> plt.Figure:
    """A grid of perturbation panels, one per (target, activation, parameterization) in ``panels``."""
    rows = math.ceil(len(panels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    colors = width_colors(perturbation["width"].unique())
    keys = ["target", "activation", "parameterization"]
    for ax, panel in zip(axes.flat, panels, strict=False):
        selected = (perturbation[keys] == pd.Series(panel)).all(axis=1)
        chosen = (crossings[keys] == pd.Series(panel)).all(axis=1)
        if not selected.any():
            ax.set_axis_off()
            ax.set_title(f"no runs for {panel}")
            continue
        plot_perturbation_panel(ax, perturbation[selected], crossings[chosen], colors)
        ax.set_title(f"{panel['activation']}, {panel['parameterization']}, {panel['target']} target")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def memory_figure(memory: pd.DataFrame, width: int) -> plt.Figure:
    """Heaviside memory functions of trained width-``width`` models against each target's ρ.

    Rows are targets, columns parameterisations, one line per activation; log y-axis, so an
    exponentially decaying memory is a straight line.
    """
    heaviside = memory[memory["input"] == "heaviside"]
    models = heaviside[(heaviside["kind"] == "model") & (heaviside["width"] == width)]
    targets = heaviside[heaviside["kind"] == "target"]
    target_names = list(dict.fromkeys(targets["target"]))
    parameterizations = list(dict.fromkeys(models["parameterization"]))
    fig, axes = plt.subplots(
        len(target_names),
        len(parameterizations),
        figsize=(3.0 * len(parameterizations), 2.5 * len(target_names)),
        squeeze=False,
        sharex=True,
    )
    palette = dict(zip(dict.fromkeys(models["activation"]), sns.color_palette("tab10"), strict=False))
    for row, target in enumerate(target_names):
        reference = targets[targets["target"] == target]
        for column, parameterization in enumerate(parameterizations):
            ax = axes[row, column]
            ax.plot(reference["t"], reference["memory"], "k--", lw=1.6, label=r"target $|\rho(t)|$")
            chosen = models[(models["target"] == target) & (models["parameterization"] == parameterization)]
            for (activation, _seed), curve in chosen.groupby(["activation", "seed"]):
                ax.plot(curve["t"], curve["memory"], color=palette[activation], label=activation)
            ax.set_yscale("log")
            ax.set_ylim(bottom=max(ax.get_ylim()[0], MEMORY_FLOOR))
            ax.set_title(f"{target} target, {parameterization}, m = {width}")
            ax.set_xlabel("t")
            ax.set_ylabel("memory function")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    fig.legend(unique.values(), unique.keys(), loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("Memory functions of trained RNNs (Heaviside input) against the target")
    fig.tight_layout()
    return fig


def stability_figure(stability: pd.DataFrame) -> plt.Figure:
    """Stability radius (top row) and stability margin (bottom row) against width.

    One column per activation, colour by parameterisation, solid/dashed/… by target: the curse of
    memory shows as the pol curves of the unreparameterised forms lying below the exp curves.
    A radius of 0 is drawn at the bottom edge of the log axis.
    """
    activations = list(dict.fromkeys(stability["activation"]))
    fig, axes = plt.subplots(
        2, len(activations), figsize=(3.0 * len(activations), 5.0), squeeze=False, sharex=True
    )
    positive = stability.loc[stability["stability_radius"] > 0, "stability_radius"]
    floor = positive.min() / 3 if len(positive) else 1e-6
    shown = stability.assign(stability_radius=stability["stability_radius"].clip(lower=floor))
    quantities = [
        ("stability_radius", r"stability radius $\beta^*$"),
        ("stability_margin", r"$\lambda_{\min}(\hat W)$"),
    ]
    for column, activation in enumerate(activations):
        chosen = shown[shown["activation"] == activation]
        for row, (quantity, label) in enumerate(quantities):
            ax = axes[row, column]
            sns.lineplot(
                data=chosen,
                x="width",
                y=quantity,
                hue="parameterization",
                style="target",
                markers=True,
                ax=ax,
                legend=(row == 0 and column == len(activations) - 1),
                errorbar=None,
            )
            ax.set_xscale("log", base=2)
            if quantity == "stability_radius":
                ax.set_yscale("log")
            else:
                ax.set_yscale("symlog", linthresh=1e-3)
            ax.set_ylabel(label if column == 0 else "")
            ax.set_title(f"{activation} RNN")
    legend = axes[0, -1].get_legend()
    if legend is not None:
        legend.set_bbox_to_anchor((1.02, 1.0))
        legend.set_loc("upper left")
    fig.suptitle("Stability radius and stability margin against width")
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, paths: Sequence[str | Path]) -> None:
    """Write one figure to every path (format from the suffix) and close it."""
    for path in paths:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, format=Path(path).suffix.lstrip("."))
    plt.close(fig)
