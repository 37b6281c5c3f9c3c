"""Figures from the tidy summary tables (matplotlib + seaborn); the style file is applied by callers.

Perturbation-error panels follow the paper's layout: log–log axes, one curve per width, β = 0 drawn
at the left edge (a tick labelled 0, two grid steps left of the smallest β) and non-finite errors
drawn on a line labelled ∞ at the top. So that the finite part of the curves stays readable, errors
more than ``10^INFINITY_DECADES`` times the panel's largest error at β = 0 or the smallest β are drawn
on the ∞ line too (the tables keep every value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from curse_of_memory.artifacts import atomic_path
from curse_of_memory.classification_tables import mean_and_error
from curse_of_memory.decay import exponential_fit, power_law_fit
from curse_of_memory.dynamics import attractors, tanh_map, vector_field
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
    at_zero = max(float(curve.iloc[:2].max()) for curve in curves.values())
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
        ax.set_title(_family_title(panel))
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _family_title(panel: dict) -> str:
    return f"{panel['activation']}, {panel['parameterization']}, {panel['target']} target"


def plot_memory_decay(ax: plt.Axes, t: np.ndarray, memory: np.ndarray, label: str, color, fits: bool) -> None:
    """One memory function on log–log axes (t+1 on x), with its exponential and power-law fit lines."""
    shown = memory > MEMORY_FLOOR
    ax.plot(t[shown] + 1, memory[shown], color=color, label=label)
    if not fits:
        return
    exponential, power = exponential_fit(t, memory), power_law_fit(t, memory)
    if np.isfinite(exponential.slope):
        ax.plot(
            t + 1,
            np.exp(exponential.intercept - exponential.slope * t),
            color=color,
            ls="--",
            lw=0.9,
            label=f"exp fit: rate {exponential.slope:.3g}, $R^2$ {exponential.r_squared:.3f}",
        )
    if np.isfinite(power.slope):
        ax.plot(
            t + 1,
            np.exp(power.intercept) * (t + 1) ** -power.slope,
            color=color,
            ls=":",
            lw=0.9,
            label=f"power fit: $(t+1)^{{-{power.slope:.2f}}}$, $R^2$ {power.r_squared:.3f}",
        )


def _memory_axes(ax: plt.Axes, title: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    bottom, top = ax.get_ylim()
    ax.set_ylim(max(bottom, top * 1e-12, MEMORY_FLOOR), top)
    ax.set_xlabel("t + 1")
    ax.set_ylabel("memory function")
    ax.set_title(title)


def study_figure(
    target_memory: pd.DataFrame,
    perturbation: pd.DataFrame,
    crossings: pd.DataFrame,
    panels: Sequence[dict],
    title: str,
) -> plt.Figure:
    """A target's measured memory function (left, with decay fits) and its students' ``E_m(β)`` panels.

    ``target_memory`` has rows ``input, t, memory`` for the Heaviside and impulse definitions; the
    Heaviside one is fitted (Figures 2 and 12).
    """
    fig, axes = plt.subplots(1, 1 + len(panels), figsize=(3.6 * (1 + len(panels)), 3.0), squeeze=False)
    memory_ax = axes[0, 0]
    for (name, curve), color in zip(target_memory.groupby("input", sort=False), ["k", "0.55"], strict=False):
        plot_memory_decay(
            memory_ax,
            curve["t"].to_numpy(),
            curve["memory"].to_numpy(),
            name,
            color,
            fits=name == "heaviside",
        )
    _memory_axes(memory_ax, "target memory (measured)")
    memory_ax.legend(fontsize=6, loc="lower left")
    colors = width_colors(perturbation["width"].unique())
    keys = ["target", "activation", "parameterization"]
    for ax, panel in zip(axes[0, 1:], panels, strict=True):
        selected = (perturbation[keys] == pd.Series(panel)).all(axis=1)
        chosen = (crossings[keys] == pd.Series(panel)).all(axis=1)
        plot_perturbation_panel(ax, perturbation[selected], crossings[chosen], colors)
        ax.set_title(_family_title(panel))
    handles, labels = axes[0, -1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def teacher_figure(
    teachers: pd.DataFrame,
    memory: pd.DataFrame,
    perturbation: pd.DataFrame,
    crossings: pd.DataFrame,
    example: dict,
    title: str,
) -> plt.Figure:
    """Figure 3: one teacher's students' ``E_m(β)`` (left); every teacher's memory (right), survivors in
    colour with their exponential fits, filtered-out teachers in grey.

    ``teachers`` is the teacher table (``target, survived``); ``memory`` has ``target, t, memory``.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.2))
    plot_perturbation_panel(left, perturbation, crossings)
    kept = teachers.groupby("target", sort=False)["survived"].any()
    left.set_title(f"students of {example['target']} ({'kept' if kept[example['target']] else 'none kept'})")
    left.legend(fontsize=6)
    survivors = kept.index[kept].tolist()
    palette = dict(zip(survivors, sns.color_palette("tab10", n_colors=max(len(survivors), 1)), strict=False))
    for target, curve in memory.groupby("target", sort=False):
        t, values = curve["t"].to_numpy(), curve["memory"].to_numpy()
        if target in palette:
            shown = values > MEMORY_FLOOR
            right.plot(t[shown] + 1, values[shown], color=palette[target], label=f"{target} (kept)")
            fit = exponential_fit(t, values)
            right.plot(t + 1, np.exp(fit.intercept - fit.slope * t), color=palette[target], ls="--", lw=0.8)
        else:
            shown = values > MEMORY_FLOOR
            right.plot(t[shown] + 1, values[shown], color="0.7", lw=0.9, label=f"{target} (filtered out)")
    _memory_axes(right, "teacher memory functions (dashed: exponential fits)")
    right.set_xscale("linear")
    right.set_xlabel("t")
    right.legend(fontsize=6, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def definitions_figure(curves: pd.DataFrame, agreement: pd.DataFrame) -> plt.Figure:
    """Figure 10: Heaviside vs impulse memory, one panel per (family, layers); median over seeds with a
    band from the 10th to the 90th percentile. Titles give the panel's median agreement numbers."""
    families = list(dict.fromkeys(curves["family"]))
    depths = sorted(curves["layers"].unique())
    fig, axes = plt.subplots(
        len(families),
        len(depths),
        figsize=(2.6 * len(depths), 2.2 * len(families)),
        squeeze=False,
        sharex=True,
    )
    colors = {"heaviside": "C0", "impulse": "C3"}
    for row, family in enumerate(families):
        for column, layers in enumerate(depths):
            ax = axes[row, column]
            panel = curves[(curves["family"] == family) & (curves["layers"] == layers)]
            if panel.empty:
                ax.set_axis_off()
                continue
            for name, curve in panel.groupby("input", sort=False):
                quantiles = curve.groupby("t")["memory"].quantile([0.1, 0.5, 0.9]).unstack()
                ax.plot(quantiles.index, quantiles[0.5], color=colors.get(name, "k"), label=name)
                ax.fill_between(
                    quantiles.index, quantiles[0.1], quantiles[0.9], color=colors.get(name, "k"), alpha=0.2
                )
            numbers = agreement[(agreement["family"] == family) & (agreement["layers"] == layers)].median(
                numeric_only=True
            )
            ax.set_yscale("log")
            ax.set_ylim(bottom=max(ax.get_ylim()[0], MEMORY_FLOOR))
            ax.set_title(
                f"{family.upper()}, {layers} layer{'s' if layers > 1 else ''}\n"
                f"L1 diff {numbers['relative_l1_difference']:.2f}, log corr {numbers['log_correlation']:.3f}",
                fontsize=8,
            )
            ax.set_xlabel("t")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("Figure 10: memory functions from Heaviside and impulse inputs (random initialisation)")
    fig.tight_layout()
    return fig


def nondecaying_figure(weights: np.ndarray, memory: pd.DataFrame) -> plt.Figure:
    """Figure 11: the 2-D tanh RNN's phase portrait with its attractors, its memory function, and the
    memory functions of random tanh RNNs (non-decaying ones in colour, decaying ones in grey)."""
    fig, (portrait, own, random) = plt.subplots(1, 3, figsize=(11.0, 3.3))
    grid = np.linspace(-2.0, 2.0, 21)
    states = np.stack(np.meshgrid(grid, grid), axis=-1)
    field = vector_field(states, weights)
    portrait.quiver(states[..., 0], states[..., 1], field[..., 0], field[..., 1], color="0.5", angles="xy")
    starts = np.array([[1.5, -0.5], [-1.5, 0.5], [0.3, 0.2], [-0.2, 1.8]])
    for start in starts:
        path = [start]
        for _ in range(12):
            path.append(tanh_map(path[-1], weights))
        path = np.array(path)
        portrait.plot(path[:, 0], path[:, 1], "-o", ms=2, lw=0.8)
    found = attractors(weights, states.reshape(-1, 2))
    portrait.plot(found[:, 0], found[:, 1], "k*", ms=12, label="attractors")
    portrait.set_xlabel("$h_1$")
    portrait.set_ylabel("$h_2$")
    portrait.set_title("phase portrait: $\\Delta h = \\tanh(hW) - h$", fontsize=9)
    portrait.legend(fontsize=7, loc="lower left")
    paper = memory[memory["model"] == memory["model"].iloc[0]]
    own.plot(paper["t"], paper["memory"], "k-", lw=0.8, label="memory function")
    response = own.twinx()
    response.plot(paper["t"], paper["response"], color="C1", lw=0.8, marker=".", ms=3)
    response.set_ylabel("step response $y_k$", color="C1")
    own.set_xlim(0, min(40, paper["t"].max()))
    own.set_xlabel("t")
    own.set_ylabel("memory function")
    own.set_title(f"{paper['model'].iloc[0]} RNN: memory never decays", fontsize=9)
    others = memory[memory["model"] != memory["model"].iloc[0]]
    for name, curve in others.groupby("model", sort=False):
        decays = bool(curve["decays"].iloc[0])
        random.plot(
            curve["t"],
            curve["memory"],
            color="0.75" if decays else None,
            lw=0.8,
            label=None if decays else name,
        )
    random.set_yscale("log")
    random.set_ylim(bottom=max(random.get_ylim()[0], MEMORY_FLOOR))
    kept = others.drop_duplicates("model")
    random.set_title(
        f"random tanh RNNs: {int((~kept['decays']).sum())} of {len(kept)} never decay (grey: decay)",
        fontsize=9,
    )
    random.set_xlabel("t")
    if not kept["decays"].all():
        random.legend(fontsize=5, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle("Figure 11: tanh RNNs whose memory does not decay")
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


def stability_summary_figure(stability: pd.DataFrame, crossings: pd.DataFrame) -> plt.Figure:
    """Every study at a glance: stability radius (top, with crossing points as crosses at the larger
    width) and relative error ``E_m(0)/E_null`` (bottom) against width, one line per (target,
    parameterisation), median over activations and seeds. The curse of memory: radii that fall with m
    while E_m(0) falls too."""
    studies = list(dict.fromkeys(stability["study"]))
    fig, axes = plt.subplots(2, len(studies), figsize=(3.4 * len(studies), 5.6), squeeze=False, sharex="col")
    positive = stability.loc[stability["stability_radius"] > 0, "stability_radius"]
    floor = positive.min() / 3 if len(positive) else 1e-6
    for column, study in enumerate(studies):
        rows = stability[stability["study"] == study].assign(
            family=lambda t: t["target"] + " / " + t["parameterization"],
            relative_error=lambda t: t["error_at_zero"] / t["null_error"],
            radius=lambda t: t["stability_radius"].clip(lower=floor),
        )
        families = list(dict.fromkeys(rows["family"]))
        palette = dict(
            zip(families, sns.color_palette("tab10", n_colors=max(len(families), 1)), strict=False)
        )
        for family, group in rows.groupby("family", sort=False):
            medians = group.groupby("width")[["radius", "relative_error"]].median()
            axes[0, column].plot(
                medians.index, medians["radius"], "-o", ms=3, color=palette[family], label=family
            )
            axes[1, column].plot(medians.index, medians["relative_error"], "-o", ms=3, color=palette[family])
            target, parameterization = family.split(" / ")
            points = crossings[
                (crossings["study"] == study)
                & (crossings["target"] == target)
                & (crossings["parameterization"] == parameterization)
            ]
            axes[0, column].plot(
                points["width_large"], points["crossing_beta"], "x", ms=5, color=palette[family], alpha=0.8
            )
        for row, label in enumerate([r"radius $\beta^*$ (x: crossing $\beta$)", r"$E_m(0)/E_{null}$"]):
            ax = axes[row, column]
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_ylabel(label if column == 0 else "")
            ax.set_xlabel("width m" if row == 1 else "")
        axes[0, column].set_title(f"study: {study}")
        axes[0, column].legend(fontsize=5, loc="best")
    fig.suptitle("Stability radius, crossing points and E_m(0) against width, every study")
    fig.tight_layout()
    return fig


#: Figure 9's panels: (column of results/summary/classification.csv, axis label).
CLASSIFICATION_PANELS = [
    ("train_loss", "training loss"),
    ("validation_loss", "validation loss"),
    ("train_accuracy", "training accuracy"),
    ("validation_accuracy", "validation accuracy"),
]


def classification_figure(history: pd.DataFrame, baseline: str) -> plt.Figure:
    """Figure 9: training and validation loss and accuracy per epoch, one line per parameterisation (the
    unreparameterised ``baseline`` dashed), mean ± standard error over seeds as a band; one row of
    panels per width. Epoch 0 is the shared initialisation, left out of the loss panels' scale."""
    columns = [column for column, _ in CLASSIFICATION_PANELS]
    summary = mean_and_error(history, ["width", "parameterization", "epoch"], columns)
    widths = sorted(summary["width"].unique())
    parameterizations = list(dict.fromkeys(history["parameterization"]))
    palette = dict(
        zip(parameterizations, sns.color_palette("colorblind", len(parameterizations)), strict=True)
    )
    fig, axes = plt.subplots(len(widths), 4, figsize=(12, 2.8 * len(widths)), squeeze=False)
    for row, width in enumerate(widths):
        for column, (name, label) in enumerate(CLASSIFICATION_PANELS):
            ax = axes[row, column]
            for parameterization in parameterizations:
                curve = summary[
                    (summary["width"] == width) & (summary["parameterization"] == parameterization)
                ]
                if name.endswith("loss"):
                    curve = curve[curve["epoch"] > 0]
                mean, error = curve[name].to_numpy(), curve[f"{name}_se"].fillna(0).to_numpy()
                style = "--" if parameterization == baseline else "-"
                ax.plot(
                    curve["epoch"],
                    mean,
                    style,
                    marker="o",
                    ms=3,
                    color=palette[parameterization],
                    label=parameterization,
                )
                ax.fill_between(
                    curve["epoch"], mean - error, mean + error, color=palette[parameterization], alpha=0.2
                )
            if name.endswith("loss"):
                ax.set_yscale("log")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.set_title(f"{label}, m = {width}")
        axes[row, 0].legend(fontsize=6, loc="best")
    fig.suptitle(
        "Figure 9: sequential image classification, by recurrent parameterisation (mean ± s.e. over seeds)"
    )
    fig.tight_layout()
    return fig


def save_figure(fig: plt.Figure, paths: Sequence[str | Path]) -> None:
    """Write one figure to every path (format from the suffix) and close it."""
    for path in paths:
        with atomic_path(path) as temporary:
            fig.savefig(temporary, format=Path(path).suffix.lstrip("."))
    plt.close(fig)


#: The stability margins drawn on a linear scale in Figure gradient_ratio (a symmetric log axis beyond).
MARGIN_LINEAR_RANGE = 1e-3


def gradient_ratio_figure(ratios: pd.DataFrame) -> plt.Figure:
    """The gradient-over-weight ratio ``|g'(w)|/g(w)²`` (largest over the modes of Ŵ) along training, one
    column per study: its median over models per epoch and parameterisation (top), and every epoch of every
    model against its stability margin (bottom); infinite ratios (modes held at 0) are left out."""
    finite = ratios[np.isfinite(ratios["gradient_over_weight"]) & np.isfinite(ratios["stability_margin"])]
    studies = list(dict.fromkeys(ratios["study"]))
    parameterizations = list(dict.fromkeys(ratios["parameterization"]))
    palette = dict(
        zip(parameterizations, sns.color_palette("colorblind", len(parameterizations)), strict=True)
    )
    fig, axes = plt.subplots(2, len(studies), figsize=(3.2 * len(studies), 6), squeeze=False)
    for column, study in enumerate(studies):
        rows = finite[finite["study"] == study]
        for parameterization, group in rows.groupby("parameterization", sort=False):
            medians = group.groupby("epoch")["gradient_over_weight"].median()
            color = palette[parameterization]
            axes[0, column].plot(medians.index, medians, "-", color=color, label=parameterization)
            axes[1, column].scatter(
                group["stability_margin"], group["gradient_over_weight"], s=3, alpha=0.4, color=color
            )
        axes[0, column].set_title(f"study: {study}")
        axes[0, column].set_xlabel("epoch")
        axes[1, column].set_xlabel(r"stability margin $\lambda_{\min}(\hat W)$")
        axes[1, column].set_xscale("symlog", linthresh=MARGIN_LINEAR_RANGE)
        margins = [0.0, *rows["stability_margin"]]  # at least the linear range: a frozen mode's is ±1e-16
        axes[1, column].set_xlim(min(-MARGIN_LINEAR_RANGE, *margins), max(1.0, *margins))
        for row in range(2):
            axes[row, column].set_yscale("log")
        if len(rows):  # a study whose every ratio is infinite or undefined has nothing to draw
            axes[0, column].legend(fontsize=5, loc="best")
    axes[0, 0].set_ylabel("ratio (median over models)")
    axes[1, 0].set_ylabel("ratio (every epoch, every model)")
    fig.suptitle(
        "Gradient-over-weight ratio |g'(w)| / g(w)$^2$ (largest over the modes of $\\hat W$) along training, "
        "and against the stability margin"
    )
    fig.tight_layout()
    return fig


def worst_case_figure(
    worst_case: pd.DataFrame, stability: pd.DataFrame, activation: str, norm: str
) -> plt.Figure:
    """Random against worst-case ``E_m(β)`` (results/summary/worst_case.csv) of the main grid's
    ``activation`` at ``norm``: one panel per target (rows) and parameterisation (columns), one colour per
    width, the median over seeds of each model's curve (max over draws, running max in β) solid for the
    random draws and dashed for the worst case; in the last column every model's stability radius from the
    worst case against the random draws' (``stability``: results/summary/stability_worst_case.csv)."""
    rows = worst_case[(worst_case["activation"] == activation) & (worst_case["norm"] == norm)]
    targets = list(dict.fromkeys(rows["target"]))
    parameterizations = list(dict.fromkeys(rows["parameterization"]))
    colors = width_colors(rows["width"].unique())
    betas = np.array(sorted(rows["beta"].unique()))
    zero_x = _zero_position(betas)
    fig, axes = plt.subplots(
        len(targets),
        len(parameterizations) + 1,
        figsize=(3.2 * (len(parameterizations) + 1), 2.8 * len(targets)),
    )
    axes = np.atleast_2d(axes)
    for row, target in enumerate(targets):
        for column, parameterization in enumerate(parameterizations):
            ax = axes[row, column]
            family = rows[(rows["target"] == target) & (rows["parameterization"] == parameterization)]
            curves = {}
            for (width, _), model in family.groupby(["width", "seed"]):
                ordered = model.set_index("beta").sort_index()
                for kind in ("random", "worst_case"):
                    curves.setdefault((width, kind), []).append(ordered[f"{kind}_error"].cummax())
            medians = {key: pd.concat(values, axis=1).median(axis=1) for key, values in curves.items()}
            at_zero = max(float(curve.iloc[0]) for curve in medians.values())
            infinity_y = at_zero * 10**INFINITY_DECADES
            for (width, kind), curve in sorted(medians.items()):
                x = np.where(curve.index.to_numpy() == 0, zero_x, curve.index.to_numpy())
                ax.plot(
                    x,
                    np.minimum(curve.to_numpy(), infinity_y),
                    "--" if kind == "worst_case" else "-",
                    color=colors[width],
                    label=f"m = {width}" if kind == "random" else None,
                )
            ax.axhline(infinity_y, color="0.5", lw=0.6, ls="--")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{parameterization}, {target} target", fontsize=8)
            ax.set_xlabel(r"perturbation $\beta$")
        axes[row, 0].set_ylabel(r"$E_m(\beta)$: random (solid), worst case (dashed)", fontsize=7)
        axes[row, 0].legend(fontsize=6, loc="best")
    radii = stability[(stability["norm"] == norm) & (stability["study"] == "trained")]
    for row, target in enumerate(targets):
        ax = axes[row, -1]
        chosen = radii[radii["target"] == target]
        shown = chosen[(chosen["stability_radius"] > 0) & (chosen["random_stability_radius"] > 0)]
        for index, (name, group) in enumerate(shown.groupby("activation", sort=False)):
            ax.scatter(
                group["random_stability_radius"],
                group["stability_radius"],
                s=8,
                color=sns.color_palette("colorblind")[index],
                label=name,
            )
        span = betas[betas > 0]
        ax.plot([span.min(), span.max()], [span.min(), span.max()], color="0.5", lw=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("radius, random draws")
        ax.set_ylabel("radius, worst case")
        ax.set_title(
            f"{target}: {len(chosen) - len(shown)} of {len(chosen)} models with a zero radius", fontsize=8
        )
        if len(shown):
            ax.legend(fontsize=6, loc="best")
    fig.suptitle(
        f"Worst-case against random perturbation errors ({activation} RNNs, {norm} norm; radii: every model)"
    )
    fig.tight_layout()
    return fig


def learning_rate_figure(sweep: pd.DataFrame, baseline: str) -> plt.Figure:
    """The learning-rate sweep (results/summary/learning_rate_stability.csv), one column per target: the
    final validation loss against the learning rate (median over seeds and widths, one line per
    parameterisation, ``baseline`` dashed; a diverged run's loss marked ×, an infinite one on the ∞ line),
    and the fraction of runs that diverged."""
    targets = list(dict.fromkeys(sweep["target"]))
    parameterizations = list(dict.fromkeys(sweep["parameterization"]))
    palette = dict(
        zip(parameterizations, sns.color_palette("colorblind", len(parameterizations)), strict=True)
    )
    fig, axes = plt.subplots(2, len(targets), figsize=(3.6 * len(targets), 5.6), squeeze=False, sharex=True)
    for column, target in enumerate(targets):
        runs = sweep[sweep["target"] == target]
        finite = runs["final_validation_loss"][np.isfinite(runs["final_validation_loss"])]
        infinity_y = float(finite.max()) * 10 if len(finite) else 1.0
        top, bottom = axes[0, column], axes[1, column]
        for parameterization, group in runs.groupby("parameterization", sort=False):
            style = dict(color=palette[parameterization], ls="--" if parameterization == baseline else "-")
            by_rate = group.groupby("learning_rate")
            losses = np.minimum(by_rate["final_validation_loss"].median(), infinity_y)
            top.plot(losses.index, losses, marker="o", ms=3, label=parameterization, **style)
            diverged = group[group["diverged"].astype(bool)]
            top.scatter(
                diverged["learning_rate"],
                np.minimum(diverged["final_validation_loss"], infinity_y),
                marker="x",
                s=25,
                color=palette[parameterization],
            )
            fraction = by_rate["diverged"].mean()
            bottom.plot(fraction.index, fraction, marker="o", ms=3, **style)
        top.axhline(infinity_y, color="0.5", lw=0.6, ls="--")
        top.text(runs["learning_rate"].min(), infinity_y, r"$\infty$", ha="right", va="center", fontsize=9)
        top.set_title(f"{target} target", fontsize=9)
        top.set_yscale("log")
        bottom.set_xscale("log")
        bottom.set_ylim(-0.05, 1.05)
        bottom.set_xlabel("learning rate")
    axes[0, 0].set_ylabel("final validation loss (median)")
    axes[1, 0].set_ylabel("fraction of runs diverged")
    axes[0, 0].legend(fontsize=6, loc="best")
    fig.suptitle("Learning-rate stability: every parameterisation from the same initial model (× diverged)")
    fig.tight_layout()
    return fig
