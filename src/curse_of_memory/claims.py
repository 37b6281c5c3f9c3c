"""The paper's claims (docs/paper.md §5), evaluated on the pipeline's tidy summaries.

Each claim is one row of ``results/claims.csv``: a statement, a statistic with its value and a 95%
bootstrap interval, a threshold from the config, and whether it holds. Statistics pool every width and
seed of the families a claim is about:

- ``radius_trend`` / ``crossing_trend`` / ``error_trend``: the least-squares slope of ``log10`` of the
  stability radius / crossing β / ``E_m(0)`` against ``log2(m)`` — the change in decades per doubling
  of the width. A stable family keeps its radius (slope ≥ threshold); an unstable family's crossing
  points move left (slope < threshold). Zero radii and undefined crossings are left out.
- ``fraction``: the mean of a boolean column (e.g. surviving teachers that decay exponentially).
- ``median``: the median of a numeric column (e.g. the log-correlation of two memory definitions).
- ``widest_to_narrowest``: median over seeds of ``E_m(0)`` at the largest width over the smallest.

The interval comes from ``resamples`` resamplings of the claim's rows (models, crossings, teachers,
seeds) with replacement, from a fixed seed. A value that cannot be computed (e.g. fewer than two
defined crossings) is NaN, and a claim with a NaN value does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

COLUMNS = [
    "claim",
    "figure",
    "statement",
    "statistic",
    "value",
    "ci_low",
    "ci_high",
    "test",
    "threshold",
    "holds",
]


def trend_per_doubling(widths: pd.Series, values: pd.Series) -> float:
    """Slope of ``log10(value)`` against ``log2(width)`` over positive finite values (NaN if fewer
    than two distinct widths remain)."""
    widths, values = np.asarray(widths, dtype=float), np.asarray(values, dtype=float)
    usable = np.isfinite(values) & (values > 0)
    if len(np.unique(widths[usable])) < 2:
        return float("nan")
    return float(np.polyfit(np.log2(widths[usable]), np.log10(values[usable]), 1)[0])


def _widest_to_narrowest(rows: pd.DataFrame) -> float:
    # by position: a bootstrap resample repeats rows, and with them their index labels
    ratios = [
        ordered["error_at_zero"].iloc[-1] / ordered["error_at_zero"].iloc[0]
        for _, family in rows.groupby(["target", "activation", "parameterization", "seed"])
        if family["width"].nunique() > 1
        for ordered in [family.sort_values("width", kind="stable")]
    ]
    return float(np.median(ratios)) if ratios else float("nan")


#: ``statistic → (description, function of the claim's rows and column)``.
STATISTICS: dict[str, tuple[str, Callable[[pd.DataFrame, str], float]]] = {
    "radius_trend": (
        "slope of log10 stability radius per doubling of m",
        lambda rows, _: trend_per_doubling(rows["width"], rows["stability_radius"]),
    ),
    "crossing_trend": (
        "slope of log10 crossing beta per doubling of m",
        lambda rows, _: trend_per_doubling(rows["width_small"], rows["crossing_beta"]),
    ),
    "error_trend": (
        "slope of log10 E_m(0) per doubling of m",
        lambda rows, _: trend_per_doubling(rows["width"], rows["error_at_zero"]),
    ),
    "fraction": (
        "fraction of rows where {column}",
        lambda rows, column: float(rows[column].astype(float).mean()),
    ),
    "median": ("median of {column}", lambda rows, column: float(rows[column].median())),
    "widest_to_narrowest": (
        "E_m(0) at the largest m / at the smallest m (median over seeds)",
        lambda rows, _: _widest_to_narrowest(rows),
    ),
}


@dataclass(frozen=True)
class ClaimSpec:
    """What to test: rows of ``table`` matching ``select``, a statistic, and the side of the threshold."""

    claim: str
    figure: str
    statement: str
    table: str
    statistic: str
    threshold: float
    above: bool  # holds when value >= threshold (else when value < threshold)
    select: dict = field(default_factory=dict)
    column: str = ""


def select_rows(table: pd.DataFrame, select: dict) -> pd.DataFrame:
    """Rows whose columns equal the given values (a list means any of them)."""
    chosen = np.ones(len(table), dtype=bool)
    for key, value in select.items():
        chosen &= table[key].isin(value if isinstance(value, list) else [value]).to_numpy()
    return table[chosen]


def bootstrap_interval(
    rows: pd.DataFrame, statistic: Callable[[pd.DataFrame], float], resamples: int, seed: int
) -> tuple[float, float]:
    """The 2.5% and 97.5% quantiles of ``statistic`` over resamplings of ``rows`` (NaN if undefined)."""
    if len(rows) < 2:
        return float("nan"), float("nan")
    generator = np.random.default_rng(seed)
    with np.errstate(all="ignore"):
        values = np.array(
            [statistic(rows.iloc[generator.integers(0, len(rows), len(rows))]) for _ in range(resamples)]
        )
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    return float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))


def evaluate(spec: ClaimSpec, tables: dict[str, pd.DataFrame], resamples: int, seed: int) -> dict:
    """One claims-table row for ``spec``."""
    description, function = STATISTICS[spec.statistic]
    rows = select_rows(tables[spec.table], spec.select)

    def statistic(sample: pd.DataFrame) -> float:
        return function(sample, spec.column) if len(sample) else float("nan")

    value = statistic(rows)
    low, high = bootstrap_interval(rows, statistic, resamples, seed)
    holds = np.isfinite(value) and (value >= spec.threshold if spec.above else value < spec.threshold)
    return {
        "claim": spec.claim,
        "figure": spec.figure,
        "statement": spec.statement,
        "statistic": description.format(column=spec.column),
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "test": "value >= threshold" if spec.above else "value < threshold",
        "threshold": spec.threshold,
        "holds": bool(holds),
    }


def claims_table(
    specs: list[ClaimSpec], tables: dict[str, pd.DataFrame], resamples: int, seed: int
) -> pd.DataFrame:
    """Every claim whose table exists, in order."""
    rows = [evaluate(spec, tables, resamples, seed) for spec in specs if spec.table in tables]
    return pd.DataFrame(rows, columns=COLUMNS)


def radius_pairs(stability: pd.DataFrame, exp_target: str, pol_target: str) -> pd.DataFrame:
    """Per (activation, parameterisation, width, seed) of the main study: both targets' radii and whether
    the pol radius is below the exp radius (the curse of memory in one comparison)."""
    keys = ["activation", "parameterization", "width", "seed"]
    main = stability[stability["study"] == "trained"]
    exp = main[main["target"] == exp_target].set_index(keys)["stability_radius"]
    pol = main[main["target"] == pol_target].set_index(keys)["stability_radius"]
    pairs = pd.concat({"exp_radius": exp, "pol_radius": pol}, axis=1).dropna().reset_index()
    return pairs.assign(pol_below_exp=pairs["pol_radius"] < pairs["exp_radius"])


def markdown_table(claims: pd.DataFrame) -> str:
    """The claims as a Markdown table (numbers to 3 significant digits)."""

    def number(value: float) -> str:
        return "n/a" if not np.isfinite(value) else f"{value:.3g}"

    lines = [
        "| claim | figure | statement | statistic | value [95% CI] | holds when | holds |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in claims.itertuples():
        interval = "" if not np.isfinite(row.ci_low) else f" [{number(row.ci_low)}, {number(row.ci_high)}]"
        side = "≥" if ">=" in row.test else "<"
        cells = [row.claim, row.figure, row.statement, row.statistic, f"{number(row.value)}{interval}"]
        cells += [f"{side} {number(row.threshold)}", "yes" if row.holds else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paper_claims(config: dict) -> list[ClaimSpec]:
    """The claims of docs/paper.md §5 for the figures this config builds, with the config's thresholds."""
    thresholds, figures = config["claims"], config["figures"]
    radius, crossing = thresholds["radius_slope"], thresholds["crossing_slope"]
    specs: list[ClaimSpec] = []
    if config["lstsq"]["targets"]:
        exp_target, pol_target = figures["fig1"]["targets"][:2]
        direct = {"study": "lstsq", "parameterization": figures["fig1"]["parameterization"]}
        specs += [
            ClaimSpec(
                "1a-radius",
                "1a",
                "exp memory: the least-squares fits share one stability radius",
                "stability",
                "radius_trend",
                radius,
                True,
                {**direct, "target": exp_target},
            ),
            ClaimSpec(
                "1a-error",
                "1a",
                "exp memory: E_m(0) falls as m grows",
                "stability",
                "error_trend",
                thresholds["error_slope"],
                False,
                {**direct, "target": exp_target},
            ),
            ClaimSpec(
                "1b-crossings",
                "1b",
                "pol memory: crossing points move left as m grows",
                "crossings",
                "crossing_trend",
                crossing,
                False,
                {**direct, "target": pol_target},
            ),
            ClaimSpec(
                "1b-error",
                "1b",
                "pol memory: E_m(0) falls as m grows",
                "stability",
                "error_trend",
                thresholds["error_slope"],
                False,
                {**direct, "target": pol_target},
            ),
        ]
        for parameterization in figures["fig4"]["parameterizations"]:
            specs.append(
                ClaimSpec(
                    f"4-{parameterization}",
                    "4",
                    f"{parameterization} reparameterisation: crossing points no longer move left",
                    "crossings",
                    "crossing_trend",
                    crossing,
                    True,
                    {
                        "study": "lstsq",
                        "target": figures["fig4"]["target"],
                        "parameterization": parameterization,
                    },
                )
            )
    studies = config["studies"]
    if figures["fig2"]["study"] in studies:
        specs.append(
            ClaimSpec(
                "2-crossings",
                "2",
                "nonlinear functional with polynomial memory: crossing points of tanh RNNs move left",
                "crossings",
                "crossing_trend",
                crossing,
                False,
                {"study": figures["fig2"]["study"]},
            )
        )
    if figures["fig3"]["study"] in studies:
        specs.append(
            ClaimSpec(
                "3-exponential",
                "3",
                "every surviving teacher's memory decays exponentially",
                "teachers",
                "fraction",
                thresholds["exponential_fraction"],
                True,
                {"survived": True},
                "decays_exponentially",
            )
        )
    fig7 = figures["fig7"]
    without, with_ = fig7["parameterizations"][0], fig7["parameterizations"][-1]
    main = {"study": "trained", "target": fig7["target"], "activation": fig7["activation"]}
    specs += [
        ClaimSpec(
            "7-without",
            "7",
            f"{fig7['activation']} RNN without reparameterisation ({without}): the radius shrinks as m grows",
            "stability",
            "radius_trend",
            radius,
            False,
            {**main, "parameterization": without},
        ),
        ClaimSpec(
            "7-with",
            "7",
            f"{fig7['activation']} RNN with {with_} reparameterisation keeps its radius",
            "stability",
            "radius_trend",
            radius,
            True,
            {**main, "parameterization": with_},
        ),
    ]
    fig8 = figures["fig8"]
    for activation in fig8["activations"]:
        specs.append(
            ClaimSpec(
                f"8-{activation}",
                "8",
                f"{activation} RNN with {fig8['parameterization']} "
                "reparameterisation keeps its radius on pol memory",
                "stability",
                "radius_trend",
                radius,
                True,
                {
                    "study": "trained",
                    "target": fig8["target"],
                    "activation": activation,
                    "parameterization": fig8["parameterization"],
                },
            )
        )
    specs.append(
        ClaimSpec(
            "curse",
            "7/8 grid",
            "without reparameterisation the pol target's radius is below the exp target's",
            "radius_pairs",
            "fraction",
            thresholds["curse_fraction"],
            True,
            {"parameterization": thresholds["unstable_parameterizations"]},
            "pol_below_exp",
        )
    )
    for family in config["memory_definitions"]["families"]:
        specs.append(
            ClaimSpec(
                f"10-{family}",
                "10",
                f"{family.upper()}: Heaviside and impulse memory functions agree",
                "definitions",
                "median",
                thresholds["agreement"],
                True,
                {"family": family},
                "log_correlation",
            )
        )
    specs.append(
        ClaimSpec(
            "11-paper",
            "11",
            "the 2-D tanh RNN's memory does not decay",
            "nondecaying",
            "median",
            config["nondecaying_memory"]["tail_threshold"],
            True,
            {"model": "paper 2-D"},
            "tail_ratio",
        )
    )
    if figures["fig12"]["study"] in studies:
        specs.append(
            ClaimSpec(
                "12-no-improvement",
                "12",
                "transformer teacher: larger RNN students fail to improve",
                "stability",
                "widest_to_narrowest",
                thresholds["improvement_ratio"],
                True,
                {"study": figures["fig12"]["study"]},
            )
        )
    return specs


#: The README block that :func:`update_readme` rewrites.
README_MARKERS = (
    "<!-- claims table: generated by `python -m curse_of_memory.claims`; do not edit -->",
    "<!-- end of claims table -->",
)


def comparison_table(claims: pd.DataFrame) -> str:
    """Figure, the paper's claim, what this run shows: one Markdown row per claim."""

    def shows(row) -> str:
        interval = "" if not np.isfinite(row.ci_low) else f" [{row.ci_low:.3g}, {row.ci_high:.3g}]"
        value = "n/a" if not np.isfinite(row.value) else f"{row.value:.3g}"
        verdict = "holds" if row.holds else "does not hold"
        side = "≥" if ">=" in row.test else "<"
        return f"**{verdict}**: {row.statistic} = {value}{interval} (needs {side} {row.threshold:.3g})"

    lines = ["| figure | paper's claim | this run |", "|---|---|---|"]
    lines += [f"| {row.figure} | {row.statement} | {shows(row)} |" for row in claims.itertuples()]
    return "\n".join(lines) + "\n"


def update_readme(readme: str, claims: pd.DataFrame) -> str:
    """``readme`` with the text between :data:`README_MARKERS` replaced by the comparison table."""
    start, end = README_MARKERS
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{comparison_table(claims)}{end}{tail}"


def main(argv: list[str] | None = None) -> None:
    """``python -m curse_of_memory.claims [claims.csv] [README.md]``: regenerate the README's table."""
    import sys
    from pathlib import Path

    arguments = sys.argv[1:] if argv is None else argv
    claims_path = Path(arguments[0] if arguments else "results/claims.csv")
    readme_path = Path(arguments[1] if len(arguments) > 1 else "README.md")
    readme_path.write_text(update_readme(readme_path.read_text(), pd.read_csv(claims_path)))
    print(f"updated {readme_path} from {claims_path}")


if __name__ == "__main__":
    main()
