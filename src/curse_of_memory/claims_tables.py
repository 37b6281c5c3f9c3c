"""The claims table for readers: Markdown for results/claims.md, and the comparison table of the results
page and the README (written there by :mod:`curse_of_memory.published_pages`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd


def number(value: float) -> str:
    """A claims-table number to 3 significant digits: ``inf`` and ``-inf`` as such, NaN as ``n/a``."""
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return "n/a" if np.isnan(value) else f"{value:.3g}"


def _text(value) -> str:
    """A text cell read back from CSV (an empty cell comes back as NaN)."""
    return "" if isinstance(value, float) and math.isnan(value) else str(value)


def _interval(low: float, high: float) -> str:
    if math.isnan(low):
        return " (no interval)"
    return f" [{number(low)}, {number(high)}]"


def claim_rows(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims' own rows of a claims table, without the rows of a conjunction's conditions (named
    ``<claim>.<condition>``)."""
    return claims[~claims["claim"].str.contains(".", regex=False)]


def _cell(row, prefix: str, column: str):
    return getattr(row, f"{prefix}_{column}" if prefix else column, "")


def value_and_interval(row, prefix: str = "") -> str:
    """A claim's value and 95% interval (``prefix``: of its other reading, ``radius`` or ``worst_case``)."""
    value, low, high = (_cell(row, prefix, column) for column in ("value", "ci_low", "ci_high"))
    return f"{number(value)}{_interval(low, high)}"


def reading(row, prefix: str = "") -> str:
    """A claim's verdict, value and interval (``prefix``: of its other reading, ``radius`` or
    ``worst_case``; empty when the claim was not read that way)."""
    verdict = _text(_cell(row, prefix, "verdict"))
    return f"{verdict}: {value_and_interval(row, prefix)}" if verdict else ""


#: The other readings of a claim shown beside its verdict, where the claims table has them: ``prefix →
#: (its column in markdown_table, in comparison_table, comparison_table's cell for a claim not read so)``.
READINGS = {
    "radius": ("radius reading", "radius reading (second)", ""),
    "worst_case": ("worst case", "worst-case perturbations", "not evaluated"),
}


def _readings(claims: pd.DataFrame) -> list[str]:
    """The prefixes of :data:`READINGS` that ``claims`` has columns for."""
    return [prefix for prefix in READINGS if f"{prefix}_verdict" in claims]


def markdown_table(claims: pd.DataFrame) -> str:
    """The claims as a Markdown table (numbers to 3 significant digits); with a ``radius reading`` column
    when Figures 7, 8 and ``curse`` were read again on the stability radius, and a ``worst case`` column
    when the claims were also evaluated on worst-case perturbation errors."""
    readings = _readings(claims)
    header = [
        "claim",
        "figure",
        "statement",
        "statistic",
        "value [95% CI]",
        "holds when",
        "verdict",
        "control",
    ]
    header += [READINGS[prefix][0] for prefix in readings]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in claims.itertuples():
        test = row.test.replace("value ", "").replace("threshold", number(row.threshold))
        cells = [
            row.claim,
            row.figure,
            row.statement,
            row.statistic,
            f"{number(row.value)}{_interval(row.ci_low, row.ci_high)}",
        ]
        cells += [test, row.verdict, _text(getattr(row, "control", ""))]
        cells += [reading(row, prefix) for prefix in readings]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def comparison_table(claims: pd.DataFrame) -> str:
    """Figure, the paper's claim, what this run shows (a conjunction's conditions each with its verdict),
    what the negative controls show, and the claim's other readings (:data:`READINGS`) where the table has
    them: one Markdown row per claim."""

    def shows(row) -> str:
        test = row.test.replace("value ", "").replace("threshold", number(row.threshold))
        return f"{number(row.value)}{_interval(row.ci_low, row.ci_high)} (needs {test})"

    readings = _readings(claims)
    header = ["figure", "paper's claim", "this run", "negative control"]
    header += [READINGS[prefix][1] for prefix in readings]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in claim_rows(claims).itertuples():
        parts = claims[claims["claim"].str.startswith(f"{row.claim}.")]
        if len(parts):
            found = f"**{row.verdict}**, smallest margin {shows(row)}: " + "; ".join(
                f"{part.claim.split('.', 1)[1]} {part.verdict}, {shows(part)}" for part in parts.itertuples()
            )
        else:
            found = f"**{row.verdict}**: {row.statistic} = {shows(row)}"
        cells = [row.figure, row.statement, found]
        cells += [_text(getattr(row, "control", "")) or "not applicable (untrained models)"]
        cells += [reading(row, prefix) or READINGS[prefix][2] for prefix in readings]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
