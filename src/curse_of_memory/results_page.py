"""docs/results.md: the run's figure-by-figure comparison with the paper, numbers taken from its tables.

Every number on the page is computed here from the run's tidy tables (least-squares constructions,
stability, claims); the page's prose says what each number is and what the paper shows. Rule
``results_page`` writes it to ``results/results.md`` in every run; docs/results.md is that file from the
quick preset's run, copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from curse_of_memory.artifacts import load_csv
from curse_of_memory.claims import point_values
from curse_of_memory.claims_tables import claim_rows, comparison_table, reading
from curse_of_memory.classification_tables import markdown, table_one
from curse_of_memory.design import MAIN_STUDY

#: The run's tables the page is made from: :func:`results_page`'s argument → (its path under ``results/``,
#: the rule that writes it).
PAGE_TABLES = {
    "constructions": ("lstsq/constructions.csv", "least_squares"),
    "stability": ("summary/stability.csv", "summarize_stability"),
    "crossings": ("summary/crossings.csv", "summarize_stability"),
    "claims": ("claims.csv", "claims"),
    "spectral": ("summary/stability_spectral.csv", "summarize_spectral_stability"),
    "classification_test": ("summary/classification_test.csv", "summarize_classification"),
    "worst_case": ("summary/stability_worst_case.csv", "summarize_worst_case"),
    "learning_rate_table": ("summary/largest_stable_learning_rate.md", "summarize_learning_rate"),
}
#: The tables a run without the optional studies lacks (``results_page`` takes ``None`` for them).
OPTIONAL_TABLES = ("spectral", "classification_test", "worst_case", "learning_rate_table")


#: An ``E_m(0)`` at or below this is round-off, not an approximation error.
ROUND_OFF = 1e-12


def _number(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:.2g}"


def error_sequence(pairs: pd.DataFrame) -> np.ndarray:
    """``E_m(0)`` of every width of one family, from its consecutive-width rows (``constructions.csv``)."""
    ordered = pairs.sort_values("width_small")
    return np.concatenate([ordered["error_at_zero_small"].to_numpy()[:1], ordered["error_at_zero_large"]])


def errors_fall(errors: np.ndarray) -> bool:
    """Figure 1a's unperturbed picture: ``E_m(0)`` non-increasing in m, falling at least 10× overall,
    and above round-off."""
    return bool(np.all(np.diff(errors) <= 0) and errors[0] >= 10 * errors[-1] and errors.min() > ROUND_OFF)


def lstsq_section(constructions: pd.DataFrame, fit: str, perturbed: str) -> str:
    """Figures 1a, 1b and 4 under every construction: E_m(0) per width, each pair's crossing (max-over-
    draws curves, and the median [min, max] of the single draws' crossings), first/last crossing."""
    lines = [
        "| fit | perturbed | target | rates | E_m(0) per width | E_m(0) falls | crossings: max curve "
        "(draws' median [min, max]) | last / first crossing |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = ["fit", "perturbed", "target", "parameterization"]
    for (fit_name, blocks, target, rates), pairs in constructions.groupby(keys, sort=False):
        errors = error_sequence(pairs)
        pairs = pairs.sort_values("width_small")
        crossed = [
            f"{_number(row.crossing_beta)} ({_number(row.draw_crossing_median)} "
            f"[{_number(row.draw_crossing_min)}, {_number(row.draw_crossing_max)}])"
            for row in pairs.itertuples()
        ]
        defined = pairs["crossing_beta"].dropna().to_numpy()
        drift = defined[-1] / defined[0] if len(defined) > 1 else np.nan
        default = " **(default)**" if (fit_name, blocks) == (fit, perturbed) else ""
        lines.append(
            f"| {fit_name}{default} | {blocks} | {target} | {rates} | "
            + " ".join(_number(e) for e in errors)
            + f" | {'yes' if errors_fall(errors) else 'no'} | {'; '.join(crossed)} | {_number(drift)} |"
        )
    return "\n".join(lines) + "\n"


def monotone_errors(stability: pd.DataFrame) -> tuple[int, int]:
    """Main grid: (consecutive-width pairs with ``E_{m'}(0) ≤ E_m(0)``, all such pairs), per family, seed."""
    main = stability[stability["study"] == MAIN_STUDY]
    falling = total = 0
    for _, family in main.groupby(["target", "activation", "parameterization", "seed"]):
        errors = family.sort_values("width")["error_at_zero"].to_numpy()
        falling += int((np.diff(errors) <= 0).sum())
        total += len(errors) - 1
    return falling, total


FAMILY_COLUMNS = ["target", "activation", "parameterization"]


def width_table(cells: pd.Series, widths: dict | None = None) -> str:
    """A Markdown table of text ``cells`` indexed by (target, activation, parameterization, width): one row
    per family, one column per width (headed ``m = widths[width]`` where ``widths`` names them)."""
    grid = cells.unstack("width").fillna("—")
    names = widths or {}
    lines = [
        "| "
        + " | ".join(FAMILY_COLUMNS)
        + " | "
        + " | ".join(f"m = {names.get(w, w)}" for w in grid.columns)
        + " |",
        "|---|---|---|" + "---|" * len(grid.columns),
    ]
    rows = zip(grid.index, grid.to_numpy(), strict=True)
    lines += ["| " + " | ".join([*family, *row]) + " |" for family, row in rows]
    return "\n".join(lines) + "\n"


def radius_table(stability: pd.DataFrame) -> str:
    """Main grid: the stability radius per family and width, median over seeds [min, max]."""
    main = stability[stability["study"] == MAIN_STUDY]
    radii = main.groupby([*FAMILY_COLUMNS, "width"])["stability_radius"]
    cells = pd.concat([radii.median(), radii.min(), radii.max()], axis=1).apply(
        lambda r: f"{_number(r.iloc[0])} [{_number(r.iloc[1])}, {_number(r.iloc[2])}]", axis=1
    )
    return width_table(cells)


def fit_table(stability: pd.DataFrame) -> str:
    """The main grid's fits: ``E_m(0)/E_null`` at every width, median over seeds [min, max], one row per
    cell, and a last row with the median over the cells' medians."""
    main = stability[stability["study"] == MAIN_STUDY]
    relative = main.groupby([*FAMILY_COLUMNS, "width"])["relative_error_at_zero"]
    cells = pd.concat([relative.median(), relative.min(), relative.max()], axis=1).apply(
        lambda r: f"{_number(r.iloc[0])} [{_number(r.iloc[1])}, {_number(r.iloc[2])}]", axis=1
    )
    overall = relative.median().groupby("width").median()
    last = "| median over cells | | | " + " | ".join(_number(value) for value in overall) + " |"
    return width_table(cells) + last + "\n"


def crossing_table(crossings: pd.DataFrame) -> str:
    """The main grid's crossing points of consecutive widths, median over seeds [min, max] of the point
    values (a crossing beyond the grid counts as the grid's last β, and the cell says how many seeds'
    were), one row per cell, one column per width pair."""
    main = crossings[crossings["study"] == MAIN_STUDY].assign(
        width=lambda rows: rows["width_small"],
        point=lambda rows: point_values(rows["crossing_low"], rows["crossing_high"]),
        beyond=lambda rows: np.isinf(rows["crossing_high"]),
    )
    grouped = main.groupby([*FAMILY_COLUMNS, "width"])
    cells = pd.concat(
        [grouped["point"].median(), grouped["point"].min(), grouped["point"].max(), grouped["beyond"].sum()],
        axis=1,
    ).apply(
        lambda r: (
            f"{_number(r.iloc[0])} [{_number(r.iloc[1])}, {_number(r.iloc[2])}]"
            + (f", {int(r.iloc[3])} beyond" if r.iloc[3] else "")
        ),
        axis=1,
    )
    labels = main["width_small"].astype(str) + "/" + main["width_large"].astype(str)
    pairs = dict(zip(main["width_small"], labels, strict=True))
    return width_table(cells, pairs)


def norm_table(stability: pd.DataFrame, spectral: pd.DataFrame) -> str:
    """Figures 7 and 8's families: the stability radius at the configured norm and at spectral norm β
    (``spectral``: the stability table of the spectral-norm draws), median over seeds, per width."""
    keys = [*FAMILY_COLUMNS, "width"]
    both = pd.concat(
        [
            stability.groupby(keys)["stability_radius"].median(),
            spectral.groupby(keys)["stability_radius"].median(),
        ],
        axis=1,
    ).dropna()
    return width_table(both.apply(lambda r: f"{_number(r.iloc[0])} / {_number(r.iloc[1])}", axis=1))


def radius_reading_section(claims: pd.DataFrame) -> str:
    """Figures 7, 8 and the curse claim: each claim's verdict on the crossing points beside its second
    reading on the stability radius (the claims' own rows of ``claims`` with a ``radius_verdict``); empty
    when the claims table has no radius reading."""
    if "radius_verdict" not in claims:
        return ""
    own = claim_rows(claims)
    read = own[own["radius_verdict"].fillna("").ne("")]
    lines = [
        "| claim | statement | on the crossing points (the verdict) | on the radius (second reading) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {row.claim} | {row.statement} | {reading(row)} | {reading(row, 'radius')} |"
        for row in read.itertuples()
    ]
    return (
        """Figures 7 and 8 and the curse claim are decided on the crossing points of consecutive widths, the
statistic of Definition 3.5 (stable: wider models stay better under perturbation on a ball β ≤ β₀, so the
crossings stay put; unstable: the crossings move toward 0 as m grows). The stability radius above is ours,
not the paper's; the same claims built on it are their second reading (docs/claims.md, "Why crossings"):

"""
        + "\n".join(lines)
        + "\n\n"
    )


def worst_case_section(stability: pd.DataFrame) -> str:
    """The worst case's section: per norm, the stability radius from the random draws / from the worst case
    (``stability``: results/summary/stability_worst_case.csv), median over seeds, per width, and how far
    the worst case moves the radii overall."""
    parts = []
    for norm, rows in stability.groupby("norm", sort=False):
        keys = [*FAMILY_COLUMNS, "width"]
        both = pd.concat(
            [
                rows.groupby(keys)["random_stability_radius"].median(),
                rows.groupby(keys)["stability_radius"].median(),
            ],
            axis=1,
        )
        positive = rows[rows["random_stability_radius"] > 0]
        ratio = (positive["stability_radius"] / positive["random_stability_radius"]).median()
        collapsed = int(((rows["stability_radius"] == 0) & (rows["random_stability_radius"] > 0)).sum())
        parts.append(
            f"""At {norm} norm β, the worst-case radius is {_number(ratio)} times the random draws'
(median over the {len(positive)} models with a positive random radius); {collapsed} of them fall to radius 0.
Radius from the random draws / from the worst case, median over seeds:

{width_table(both.apply(lambda r: f"{_number(r.iloc[0])} / {_number(r.iloc[1])}", axis=1))}"""
        )
    return (
        """## Worst-case perturbation errors (beyond the paper)

E_m(β) is a sup over the β-ball (Definition 3.4); the paper samples it with random draws, a lower bound.
Projected gradient ascent from the best draws (`results/summary/worst_case.csv`) gives a larger E_m(β), so a
radius read off it is at most the random draws' one. The claims table's last column decides the main grid's
claims again on these curves.

"""
        + "\n".join(parts)
        + "\n"
    )


def learning_rate_section(largest_table: str) -> str:
    """The learning-rate sweep's section: its generated table of the largest stable learning rates."""
    return f"""## Learning-rate stability (beyond the paper)

Every parameterisation trained from the same initial model at each learning rate of the grid
(`results/summary/learning_rate_stability.csv`); a run diverged when a loss was not finite or the validation
loss rose past `learning_rate_stability.explosion_factor` times its initial value. Largest learning rate
below the first that diverged, median over seeds [range] ("≥": the grid's largest rate). StableSSM: stable
forms train at larger rates than direct, best at the largest.

{largest_table}
"""


def classification_section(test: pd.DataFrame) -> str:
    """Figure 9's section: Table 1 and the parameterisations ranked by mean test accuracy per width."""
    ranking = test.groupby(["width", "parameterization"], sort=False)["test_accuracy"].mean()
    orders = "; ".join(
        f"m = {width}: " + " > ".join(accuracies.droplevel(0).sort_values(ascending=False).index)
        for width, accuracies in ranking.groupby(level=0)
    )
    return f"""## Figure 9 and Table 1: sequential image classification

Test loss and accuracy of each run's best-validation checkpoint, mean ± standard error over seeds
(`results/summary/classification_test.csv`). The paper (10 epochs of full MNIST): stable forms train faster
and end at least as good, test accuracy softplus > exp ≈ inverse > direct.

{markdown(table_one(test))}
Parameterisations by mean test accuracy in this run: {orders}.

"""


def results_page(
    constructions: pd.DataFrame,
    stability: pd.DataFrame,
    crossings: pd.DataFrame,
    claims: pd.DataFrame,
    lstsq: dict,
    spectral: pd.DataFrame | None = None,
    classification_test: pd.DataFrame | None = None,
    worst_case: pd.DataFrame | None = None,
    learning_rate_table: str | None = None,
) -> str:
    """The whole page (Markdown) from the run's tables (``crossings``: results/summary/crossings.csv);
    ``lstsq`` is the run's ``lstsq`` config section,
    ``spectral`` the stability table of the spectral-norm draws of Figures 7 and 8 (if the run made them),
    ``classification_test`` Figure 9's test results, ``worst_case`` the worst-case stability table and
    ``learning_rate_table`` the largest stable learning rates' Markdown (if the run has those studies)."""
    falling, total = monotone_errors(stability)
    main = stability[stability["study"] == MAIN_STUDY]
    seeds = main.groupby(["target", "activation", "parameterization", "width"])["seed"].nunique()
    default = constructions[
        (constructions["fit"] == lstsq["fit"]) & (constructions["perturbed"] == lstsq["perturbed"])
    ]
    fig1a = default[
        (default["target"] == default["target"].iloc[0]) & (default["parameterization"] == "direct")
    ]
    fig1a_verdict = "reproduced" if errors_fall(error_sequence(fig1a)) else "not reproduced"
    widths = ", ".join(map(str, lstsq["widths"]))
    share = f"{100 * falling / max(total, 1):.0f}%"
    norms = (
        ""
        if spectral is None
        else f"""## Perturbation norm (Figures 7 and 8)

The same trained models perturbed with each tensor's noise at max norm β (the authors) / at spectral norm β
(Definition 3.4's block norm): stability radius, median over seeds.

{norm_table(main, spectral)}
"""
    )
    return f"""# Results: this run against the paper, figure by figure

Generated by rule `results_page` (`results/results.md`) from this run's tables
(`results/lstsq/constructions.csv`, `results/summary/stability.csv`, `results/claims.csv`); do not edit
by hand. docs/paper.md says what each figure must show, docs/lstsq.md how the least-squares fits are built.

## Figures 1 and 4: least squares, every construction

Each row is one family of least-squares fits (widths {widths}). "E_m(0) falls": non-increasing in m, at
least 10× overall and above round-off ({ROUND_OFF:g}). A crossing point is the β where the wider fit's
`E_m(β)` reaches the narrower one's; "—" when the wider fit is not better at β = 0 or the curves do not
cross on the grid. The paper: for `0.9^t` (Figure 1a) E_m(0) falls and the crossings stay put; for
`(t + 1)^-1.1` (Figure 1b) they move left; with exp or softplus rates (Figure 4) they stay put.

{lstsq_section(constructions, lstsq["fit"], lstsq["perturbed"])}
Figure 1a under the default construction, E_m(0) falls with m: **{fig1a_verdict}**.

## The main grid (Figures 7, 8 and the curse of memory)

- Seeds per cell: {int(seeds.min())}–{int(seeds.max())}.
- E_m(0) non-increasing in m in {falling} of {total} consecutive-width pairs ({share}; the chained early
  stopping's aim).

The fits, `E_m(0) / E_null` (the unperturbed test error over the zero predictor's), median over seeds
[min, max]; the authors' fits at their scale (128,000 sequences) sit near 0.02 at m = 8 and 0.001 at
m = 64 (tanh RNN on pol, read off their figure):

{fit_table(stability)}
Crossing points of consecutive widths (the β where the wider model's `E_m(β)` reaches the narrower one's;
"beyond": never on the grid, counted at its last β; 0: the wider model is not better even unperturbed),
median over seeds [min, max]: what Figures 7 and 8 and the curse claim are decided on.

{crossing_table(crossings)}
Stability radius (the β at which a perturbed model is as bad as predicting zero), median over seeds
[min, max]:

{radius_table(stability)}
{radius_reading_section(claims)}{norms}{"" if worst_case is None else worst_case_section(worst_case)}\
{"" if learning_rate_table is None else learning_rate_section(learning_rate_table)}\
{"" if classification_test is None else classification_section(classification_test)}## Every claim

{comparison_table(claims)}"""


def load_page_tables(paths: Mapping[str, str | Path | None]) -> dict:
    """Every :data:`PAGE_TABLES` entry read from ``paths`` (CSV as a frame, Markdown as text; a missing
    optional table as ``None``)."""
    tables = {}
    for name, (relative, made_by) in PAGE_TABLES.items():
        path = paths.get(name)
        if not path:
            if name not in OPTIONAL_TABLES:
                raise ValueError(f"the results page needs {relative} (rule {made_by})")
            tables[name] = None
        elif relative.endswith(".md"):
            tables[name] = Path(path).read_text()
        else:
            tables[name] = load_csv(path, made_by=made_by)
    return tables
