"""The claims engine: a statistic per claim, its 95% interval from resampling replicates, three verdicts.

A :class:`Claim` is one or more :class:`Condition` s on rows of the pipeline's tidy tables. Each condition
is a statistic of the selected rows (or a *contrast*: the statistic on the selected rows minus the same
statistic on a baseline selection), a threshold and the side of it the claim needs. A claim of several
conditions is their *conjunction*: its statistic is the smallest margin (how far each condition's value is
on its passing side, in the condition's units), which must be positive.

**Censoring.** Radii and crossings carry the interval the β grid allows (``*_low``, ``*_high``; see
:mod:`curse_of_memory.stability`). Every statistic is monotone in its inputs, so it is computed three
times: on the point values (the resolved value, the grid's first β for one below the grid, its last β for
one beyond) and on the lower and upper ends of every input, which bound what any values inside the
intervals could give. Collapsed radii and never-reached crossings are thereby kept as what they are.

**Statistics** (:data:`STATISTICS`), per family = one (study, target, activation, parameterisation, seed):

- ``radius_trend`` / ``crossing_trend`` / ``error_trend``: decades of stability radius / crossing β /
  ``E_m(0)`` per doubling of m, as the Theil–Sen slope: the median over all width pairs of a family of
  ``Δ log10(value) / Δ log2(m)``, pooled over the families of the claim. A pair whose two values are both
  exactly 0 carries no slope; bounds use ``−∞``/``+∞`` where a log is of 0.
- ``fraction``: the mean of a boolean column; its bounds are the columns ``{column}_low`` (certainly true)
  and ``{column}_high`` (possibly true) where the table has them.
- ``median``: the median of a numeric column.
- ``widest_to_narrowest``: the median over families of ``E_m(0)`` at the largest m over the smallest.

**Interval.** The claim's *replicates* (its ``unit``: seeds for trained models, teachers for Figure 3)
are resampled with replacement ``resamples`` times, from a fixed seed, jointly for all conditions and
terms (a seed drawn once enters every family of that seed: paired contrasts). The interval runs from the
2.5% quantile of the lower bound to the 97.5% quantile of the upper bound. With fewer than
``minimum_replicates`` replicates there is no interval. A claim without a unit is exact (a fixed model):
its interval is its bounds.

**Verdict.** ``holds`` when the whole interval lies on the claim's side of the threshold, ``does not
hold`` when it lies wholly on the other side, ``inconclusive`` otherwise or when there is no interval.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from curse_of_memory.design import FAMILY_KEYS

VERDICTS = ("holds", "does not hold", "inconclusive")
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
    "verdict",
    "holds",
    "replicates",
    "censored",
    "note",
]
#: ``side → (test, passes(low, high, threshold), fails(low, high, threshold))``.
SIDES: dict[str, tuple[str, Callable, Callable]] = {
    "at least": ("value >= threshold", lambda lo, hi, t: lo >= t, lambda lo, hi, t: hi < t),
    "below": ("value < threshold", lambda lo, hi, t: hi < t, lambda lo, hi, t: lo >= t),
    "above": ("value > threshold", lambda lo, hi, t: lo > t, lambda lo, hi, t: hi <= t),
}

#: Point values, lower and upper ends of a statistic's elements (slopes, booleans, ratios, values).
Elements = tuple[np.ndarray, np.ndarray, np.ndarray]


def point_values(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The value of each censored input: resolved (``low == high``), else the grid's finite end."""
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    return np.where(np.isinf(high), low, high)


def theil_sen_elements(widths: np.ndarray, low: np.ndarray, high: np.ndarray) -> Elements:
    """All width pairs of one family: ``Δ log10(value) / Δ log2(m)`` at the point values and its bounds."""
    widths = np.log2(np.asarray(widths, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = [np.log10(values) for values in (point_values(low, high), low, high)]
        first, second = np.triu_indices(len(widths), 1)
        order = widths[second] > widths[first]
        narrow = np.where(order, first, second)
        wide = np.where(order, second, first)
        run = widths[wide] - widths[narrow]
        distinct = run > 0
        narrow, wide, run = narrow[distinct], wide[distinct], run[distinct]
        point = (logs[0][wide] - logs[0][narrow]) / run
        lower = np.nan_to_num(
            (logs[1][wide] - logs[2][narrow]) / run, nan=-np.inf, posinf=np.inf, neginf=-np.inf
        )
        upper = np.nan_to_num(
            (logs[2][wide] - logs[1][narrow]) / run, nan=np.inf, posinf=np.inf, neginf=-np.inf
        )
    return point, lower, upper


def trend(widths, low, high=None) -> float:
    """The Theil–Sen trend of one family's values (decades per doubling of m) at its point values."""
    high = low if high is None else high
    point = theil_sen_elements(widths, np.asarray(low, float), np.asarray(high, float))[0]
    point = point[~np.isnan(point)]
    return float(np.median(point)) if len(point) else math.nan


def _trend_elements(width: str, low: str, high: str) -> Callable[[pd.DataFrame, str], Elements]:
    def elements(rows: pd.DataFrame, _: str) -> Elements:
        keys = [key for key in FAMILY_KEYS if key in rows.columns]
        parts = [
            theil_sen_elements(family[width].to_numpy(), family[low].to_numpy(), family[high].to_numpy())
            for _, family in rows.groupby(keys, sort=False)
        ]
        return _concatenate(parts)

    return elements


def _concatenate(parts: list[Elements]) -> Elements:
    if not parts:
        return np.empty(0), np.empty(0), np.empty(0)
    return tuple(np.concatenate([part[index] for part in parts]) for index in range(3))  # type: ignore[return-value]


def _fraction_elements(rows: pd.DataFrame, column: str) -> Elements:
    point = rows[column].to_numpy(dtype=float)
    bounds = [f"{column}_low", f"{column}_high"]
    low, high = (rows[name].to_numpy(dtype=float) if name in rows else point for name in bounds)
    return point, low, high


def _value_elements(rows: pd.DataFrame, column: str) -> Elements:
    """The column's values, between ``{column}_low`` and ``{column}_high`` where the table has those (a
    value the grid censors, as :func:`_fraction_elements` reads them)."""
    return _fraction_elements(rows, column)


def _widest_to_narrowest_elements(rows: pd.DataFrame, _: str) -> Elements:
    keys = [key for key in FAMILY_KEYS if key in rows.columns]
    ratios = np.array(
        [
            ordered["error_at_zero"].iloc[-1] / ordered["error_at_zero"].iloc[0]
            for _, family in rows.groupby(keys, sort=False)
            if family["width"].nunique() > 1
            for ordered in [family.sort_values("width", kind="stable")]
        ]
    )
    return ratios, ratios, ratios


@dataclass(frozen=True)
class Statistic:
    """A statistic: its wording, its elements per replicate, and how elements pool into one value."""

    description: str
    elements: Callable[[pd.DataFrame, str], Elements]
    pool: Callable[[np.ndarray, str], float]  # (elements, "point" | "low" | "high") -> value


def _median(values: np.ndarray, end: str) -> float:
    """The median of the non-NaN ``values``: for the lower ends of intervals their lower median, for the
    upper ends their upper one (a bound stays a bound, and ``−∞`` and ``+∞`` are never averaged), for
    points the middle value, or halfway between the two middle ones (NaN between ``−∞`` and ``+∞``).
    From one sort: the bootstrap calls this thousands of times per claim, where ``np.quantile`` costs
    several times more per call (and makes the middle value NaN when its upper neighbour is infinite)."""
    values = np.sort(values[~np.isnan(values)])
    if not len(values):
        return math.nan
    lower, upper = values[(len(values) - 1) // 2], values[len(values) // 2]
    if end != "point":
        return float(lower if end == "low" else upper)
    with np.errstate(invalid="ignore"):
        return float(upper - (upper - lower) * 0.5) if len(values) % 2 == 0 else float(upper)


def _mean(values: np.ndarray, _: str) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else math.nan


STATISTICS: dict[str, Statistic] = {
    "radius_trend": Statistic(
        "Theil-Sen slope of log10 stability radius per doubling of m",
        _trend_elements("width", "radius_low", "radius_high"),
        _median,
    ),
    "crossing_trend": Statistic(
        "Theil-Sen slope of log10 crossing beta per doubling of m",
        _trend_elements("width_small", "crossing_low", "crossing_high"),
        _median,
    ),
    "error_trend": Statistic(
        "Theil-Sen slope of log10 E_m(0) per doubling of m",
        _trend_elements("width", "error_at_zero", "error_at_zero"),
        _median,
    ),
    "fraction": Statistic("fraction of rows where {column}", _fraction_elements, _mean),
    "median": Statistic("median of {column}", _value_elements, _median),
    "widest_to_narrowest": Statistic(
        "E_m(0) at the largest m / at the smallest m (median over families)",
        _widest_to_narrowest_elements,
        _median,
    ),
}


@dataclass(frozen=True)
class Condition:
    """``statistic`` of the rows of ``table`` matching ``select`` (minus the same on ``baseline``, a
    contrast) on the ``side`` of ``threshold`` that the claim needs."""

    name: str
    statement: str
    table: str
    statistic: str
    side: str
    threshold: float
    select: dict = field(default_factory=dict)
    column: str = ""
    baseline: dict | None = None

    def description(self) -> str:
        text = STATISTICS[self.statistic].description.format(column=self.column)
        if self.baseline is None:
            return text
        return f"difference of the {text}: {_selection(self.select)} minus {_selection(self.baseline)}"


def _selection(select: dict) -> str:
    return ", ".join(str(value) for value in select.values())


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: the conjunction of its conditions, resampled over ``unit``."""

    claim: str
    figure: str
    statement: str
    conditions: tuple[Condition, ...]
    unit: str | None = "seed"
    note_column: str = ""  # a second statistic shown beside the verdict (median of this column)

    @property
    def tables(self) -> set[str]:
        return {condition.table for condition in self.conditions}


def select_rows(table: pd.DataFrame, select: dict) -> pd.DataFrame:
    """Rows whose columns equal the given values (a list means any of them)."""
    chosen = np.ones(len(table), dtype=bool)
    for key, value in select.items():
        chosen &= table[key].isin(value if isinstance(value, list) else [value]).to_numpy()
    return table[chosen]


def verdict(low: float, high: float, side: str, threshold: float) -> str:
    """``holds`` / ``does not hold`` when ``[low, high]`` lies wholly on one side, else ``inconclusive``."""
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    _, passes, fails = SIDES[side]
    if passes(low, high, threshold):
        return "holds"
    return "does not hold" if fails(low, high, threshold) else "inconclusive"


class _Term:
    """One selection of rows of a condition, split into its replicates' elements."""

    def __init__(self, rows: pd.DataFrame, statistic: Statistic, column: str, unit: str | None) -> None:
        self.pool = statistic.pool
        groups = [(None, rows)] if unit is None else list(rows.groupby(unit, sort=True))
        self.elements = {label: statistic.elements(part, column) for label, part in groups if len(part)}

    def value(self, labels: list) -> tuple[float, float, float]:
        parts = [self.elements[label] for label in labels if label in self.elements]
        point, low, high = _concatenate(parts)
        return self.pool(point, "point"), self.pool(low, "low"), self.pool(high, "high")


def _margin(value: tuple[float, float, float], side: str, threshold: float) -> tuple[float, float, float]:
    """How far a condition's (point, low, high) lies on its passing side of the threshold."""
    point, low, high = value
    if side == "below":
        return threshold - point, threshold - high, threshold - low
    return point - threshold, low - threshold, high - threshold


def _condition_value(terms: list[_Term], labels: list) -> tuple[float, float, float]:
    value = terms[0].value(labels)
    if len(terms) == 1:
        return value
    baseline = terms[1].value(labels)
    return value[0] - baseline[0], value[1] - baseline[2], value[2] - baseline[1]


def _sample(claim: Claim, terms: list[list[_Term]], labels: list) -> list[tuple[float, float, float]]:
    """(point, low, high) of each condition on the replicates ``labels``, then of the conjunction's
    smallest margin."""
    values = [_condition_value(condition_terms, labels) for condition_terms in terms]
    margins = [_margin(v, c.side, c.threshold) for c, v in zip(claim.conditions, values, strict=True)]
    return [*values, tuple(_smallest(margin[end] for margin in margins) for end in range(3))]


def evaluate(claim: Claim, tables: dict[str, pd.DataFrame], settings: dict) -> list[dict]:
    """The claims-table rows of ``claim``: one per condition when there are several, then the claim's.

    ``settings``: ``resamples``, ``seed`` (the bootstrap's) and ``minimum_replicates``.
    """
    terms, labels, used = [], set(), {}
    for condition in claim.conditions:
        statistic = STATISTICS[condition.statistic]
        selections = [condition.select] + ([condition.baseline] if condition.baseline is not None else [])
        condition_terms = []
        for select in selections:
            rows = select_rows(tables[condition.table], select)
            condition_terms.append(_Term(rows, statistic, condition.column, claim.unit))
            labels |= set(condition_terms[-1].elements)
            used.setdefault(condition.table, set()).update(rows.index)
        terms.append(condition_terms)
    censored = sum(_censored_count(tables[name].loc[sorted(index)]) for name, index in used.items())
    labels = sorted(labels, key=str)
    values = _sample(claim, terms, labels)
    intervals = _intervals(claim, terms, labels, settings)
    # (name, statement, statistic, side, threshold) of each row, matching ``values`` and ``intervals``
    entries = [
        (f"{claim.claim}.{c.name}", c.statement, c.description(), c.side, c.threshold)
        for c in claim.conditions
    ]
    if len(claim.conditions) == 1:
        entries, values, intervals = (
            [(claim.claim, claim.statement, *entries[0][2:])],
            values[:1],
            intervals[:1],
        )
    else:
        description = "smallest margin of: " + "; ".join(
            f"{c.name} ({SIDES[c.side][0].replace('threshold', f'{c.threshold:g}')})"
            for c in claim.conditions
        )
        entries.append((claim.claim, claim.statement, description, "above", 0.0))
    rows = [
        _row(claim, name, statement, statistic, value[0], low, high, side, threshold, len(labels), censored)
        for (name, statement, statistic, side, threshold), value, (low, high) in zip(
            entries, values, intervals, strict=True
        )
    ]
    if claim.note_column:
        notes = select_rows(tables[claim.conditions[0].table], claim.conditions[0].select)
        rows[-1]["note"] = f"median {claim.note_column} = {notes[claim.note_column].median():.3g}"
    return rows


def _smallest(margins) -> float:
    """The conjunction's margin: the smallest, undefined (NaN) when any condition's is."""
    margins = list(margins)
    return math.nan if any(math.isnan(margin) for margin in margins) else min(margins)


#: Quantities a grid censors (the β grid, the learning-rate grid): ``<name>_low``, ``<name>_high`` bound them.
CENSORED = ("radius", "crossing", "log10_largest_stable_learning_rate")


def _censored_count(rows: pd.DataFrame) -> int:
    count = 0
    for prefix in CENSORED:
        if f"{prefix}_low" in rows:
            count += int((rows[f"{prefix}_low"] != rows[f"{prefix}_high"]).sum())
    return count


def _intervals(claim: Claim, terms: list[list[_Term]], labels: list, settings: dict) -> list[tuple]:
    """Per condition, then for the conjunction's smallest margin: the (low, high) interval."""
    count = len(claim.conditions) + 1
    if claim.unit is None:
        return [(low, high) for _, low, high in _sample(claim, terms, labels)]
    if len(labels) < settings["minimum_replicates"]:
        return [(math.nan, math.nan)] * count
    generator = np.random.default_rng(settings["seed"])
    samples = np.full((settings["resamples"], count, 2), np.nan)
    for index in range(settings["resamples"]):
        drawn = [labels[i] for i in generator.integers(0, len(labels), len(labels))]
        samples[index] = [(low, high) for _, low, high in _sample(claim, terms, drawn)]
    return [_quantiles(samples[:, k, 0], samples[:, k, 1]) for k in range(count)]


def _quantiles(lows: np.ndarray, highs: np.ndarray) -> tuple[float, float]:
    lows, highs = lows[~np.isnan(lows)], highs[~np.isnan(highs)]
    if len(lows) == 0 or len(highs) == 0:
        return math.nan, math.nan
    return float(np.quantile(lows, 0.025, method="lower")), float(np.quantile(highs, 0.975, method="higher"))


def _row(claim, name, statement, statistic, value, low, high, side, threshold, replicates, censored) -> dict:
    decision = verdict(low, high, side, threshold)
    return {
        "claim": name,
        "figure": claim.figure,
        "statement": statement,
        "statistic": statistic,
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "test": SIDES[side][0],
        "threshold": threshold,
        "verdict": decision,
        "holds": decision == "holds",
        "replicates": replicates,
        "censored": censored,
        "note": "",
    }


def claims_table(claims: list[Claim], tables: dict[str, pd.DataFrame], settings: dict) -> pd.DataFrame:
    """Every claim whose tables exist, in order (``settings``: see :func:`evaluate`)."""
    rows = [
        row for claim in claims if claim.tables <= set(tables) for row in evaluate(claim, tables, settings)
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


#: Tables of trained or fitted models: the claims on them have negative controls.
CONTROLLED_TABLES = {"stability", "crossings", "crossing_pairs", "radius_pairs", "teachers", "classification"}


def controlled(claims: list[Claim]) -> list[Claim]:
    """The claims about trained or fitted models (all their tables in :data:`CONTROLLED_TABLES`)."""
    return [claim for claim in claims if claim.tables <= CONTROLLED_TABLES]


def with_controls(claims: pd.DataFrame, controls: pd.DataFrame) -> pd.DataFrame:
    """``claims`` with a ``control`` column (each control's verdict on the same claim) and the verdict
    of any claim that also holds on a control demoted to ``inconclusive``: a statistic that passes on
    models that learned nothing is no evidence."""
    summaries, holds_on_control = {}, set()
    for claim, rows in controls.groupby("claim", sort=False):
        summaries[claim] = "; ".join(f"{r.control}: {r.verdict}" for r in rows.itertuples())
        if rows["holds"].any():
            holds_on_control.add(claim)
    table = claims.assign(control=claims["claim"].map(summaries).fillna(""))
    demoted = table["claim"].isin(holds_on_control) & table["holds"]
    table.loc[demoted, "verdict"] = "inconclusive"
    table.loc[demoted, "note"] = (table.loc[demoted, "note"] + " holds on a control too").str.strip()
    table["holds"] = table["verdict"] == "holds"
    return table


def covered(claims: list[Claim], tables: dict[str, pd.DataFrame]) -> list[Claim]:
    """The claims whose tables are all in ``tables`` and every selection of which (baselines included)
    finds rows there: those that a partial set of tables (e.g. the main grid's worst case) can decide."""

    def finds_rows(condition: Condition) -> bool:
        selections = [condition.select] + ([condition.baseline] if condition.baseline is not None else [])
        return all(len(select_rows(tables[condition.table], select)) for select in selections)

    return [
        claim
        for claim in claims
        if claim.tables <= set(tables) and all(finds_rows(condition) for condition in claim.conditions)
    ]


#: What :func:`with_reading` takes of each row of a claim's other reading.
READING = ("value", "ci_low", "ci_high", "verdict")


def reading_columns(prefix: str) -> list[str]:
    """The columns :func:`with_reading` adds for the reading ``prefix``: ``{prefix}_value``, ...."""
    return [f"{prefix}_{column}" for column in READING]


#: The columns :func:`with_worst_case` adds (then ``worst_case_norm``).
WORST_CASE_COLUMNS = reading_columns("worst_case")
#: The columns of the second reading of Figures 7, 8 and ``curse``, on the stability radius
#: (:func:`curse_of_memory.paper_claims.radius_reading`).
RADIUS_COLUMNS = reading_columns("radius")


def with_reading(claims: pd.DataFrame, reading: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """``claims`` with each row's value, interval and verdict in ``reading`` (the claims table of the same
    claims decided another way, its rows named as in ``claims``) as :func:`reading_columns` of ``prefix``,
    empty for rows ``reading`` lacks."""
    found = reading.set_index("claim")[list(READING)]
    found.columns = reading_columns(prefix)
    table = claims.join(found, on="claim")
    table[f"{prefix}_verdict"] = table[f"{prefix}_verdict"].fillna("")
    return table


def with_worst_case(claims: pd.DataFrame, worst_case: pd.DataFrame, norm: str) -> pd.DataFrame:
    """``claims`` with each row's value, interval and verdict on the worst-case tables (``worst_case``: the
    same claims evaluated there, at perturbation norm ``norm``), empty for rows not evaluated there."""
    table = with_reading(claims, worst_case, "worst_case")
    table["worst_case_norm"] = np.where(table["worst_case_verdict"] != "", norm, "")
    return table
