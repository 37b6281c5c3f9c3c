"""The paper's claims (docs/paper.md §5) as :class:`~curse_of_memory.claims.Claim` s, with the config's
thresholds, and the derived tables they read besides the summaries (:func:`pair_tables`).

Stable approximation (Definition 3.5) is a conjunction: ``E_m(0)`` falls as m grows *and* the crossing
points of consecutive widths (Figure 1a: the stability radius) do not move toward 0. The curse of memory is
the other conjunction: ``E_m(0)`` falls *but* the crossing points move toward 0. "Reparameterisation fixes
the curse" adds a contrast: the reparameterised family's trend minus the unreparameterised family's, on the
same target and activation. The main grid's claims (Figures 7, 8 and ``curse``, :func:`main_grid_claims`)
are decided on the crossings, the statistic of Definition 3.5, and read again on the stability radius, our
estimate (:func:`radius_reading`; docs/claims.md, "Why crossings"). Figure 12's "larger students fail to
improve" only means something for students that learned the teacher, so it is conjoined with that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from curse_of_memory.claims import Claim, Condition, claims_table, point_values
from curse_of_memory.design import FAMILY_KEYS, MAIN_STUDY


class Trend(NamedTuple):
    """What a trend of Definition 3.5 is read on: the table and the threshold key of its condition, the
    condition's name, its words, and the table of the curse claim's pol-against-exp pairs."""

    table: str
    threshold: str
    name: str
    words: str
    pairs: str


#: ``quantity → Trend`` of the two trends Definition 3.5 is read on.
TRENDS = {
    "radius": Trend("stability", "radius_slope", "radius", "the stability radii", "radius_pairs"),
    "crossing": Trend("crossings", "crossing_slope", "crossings", "the crossing points", "crossing_pairs"),
}


def _pol_against_exp(rows: pd.DataFrame, keys: list[str], quantity: str, targets: dict) -> pd.DataFrame:
    """The main study's ``rows`` of the exp and the pol target (``targets``: the config's
    ``claims.curse_targets``) paired on ``keys``: both targets' ``quantity`` (point value), whether pol's
    lies below exp's (point; certainly, ``_low``: pol's upper end below exp's lower end; possibly,
    ``_high``: pol's lower end below exp's upper end, from the columns ``{quantity}_low``,
    ``{quantity}_high``), and whether both targets' models learned (the boolean column ``learned``)."""
    columns = [quantity, f"{quantity}_low", f"{quantity}_high", "learned"]
    main = rows[rows["study"] == MAIN_STUDY]
    exp, pol = (main[main["target"] == targets[name]].set_index(keys)[columns] for name in ("exp", "pol"))
    pairs = exp.merge(pol, left_index=True, right_index=True, suffixes=("_exp", "_pol")).reset_index()
    return pd.DataFrame(
        {
            **{key: pairs[key] for key in keys},
            "study": MAIN_STUDY,
            f"exp_{quantity}": pairs[f"{quantity}_exp"],
            f"pol_{quantity}": pairs[f"{quantity}_pol"],
            "pol_below_exp": pairs[f"{quantity}_pol"] < pairs[f"{quantity}_exp"],
            "pol_below_exp_low": pairs[f"{quantity}_high_pol"] < pairs[f"{quantity}_low_exp"],
            "pol_below_exp_high": pairs[f"{quantity}_low_pol"] < pairs[f"{quantity}_high_exp"],
            "both_learned": pairs["learned_exp"] & pairs["learned_pol"],
        }
    )


def radius_pairs(stability: pd.DataFrame, targets: dict, learned: float) -> pd.DataFrame:
    """Per (activation, parameterisation, width, seed) of the main study: both targets' stability radii,
    whether pol's is below exp's (point, certainly: ``_low``, possibly: ``_high``, from the radii's grid
    intervals), and whether both models learned their target (``E_m(0)/E_null ≤ learned``). The curse
    claim's radius reading."""
    rows = stability.assign(
        radius=stability["stability_radius"], learned=stability["relative_error_at_zero"] <= learned
    )
    return _pol_against_exp(rows, ["activation", "parameterization", "width", "seed"], "radius", targets)


def _widths_learned(crossings: pd.DataFrame, stability: pd.DataFrame, learned: float) -> np.ndarray:
    """Whether both models of each crossing row, of width ``width_small`` and ``width_large``, learned
    their target (``E_m(0)/E_null ≤ learned`` in ``stability``; a model missing there did not)."""
    relative = stability.set_index([*FAMILY_KEYS, "width"])["relative_error_at_zero"]
    return np.logical_and.reduce(
        [
            relative.reindex(pd.MultiIndex.from_frame(crossings[[*FAMILY_KEYS, width]])).to_numpy() <= learned
            for width in ("width_small", "width_large")
        ]
    )


def crossing_pairs(
    stability: pd.DataFrame, crossings: pd.DataFrame, targets: dict, learned: float
) -> pd.DataFrame:
    """Per (activation, parameterisation, consecutive widths, seed) of the main study: both targets'
    crossing β of the width pair (point values as :func:`~curse_of_memory.claims.point_values` gives them),
    whether pol's lies left of exp's (point; certainly, ``_low``: pol's ``crossing_high`` below exp's
    ``crossing_low``; possibly, ``_high``: pol's ``crossing_low`` below exp's ``crossing_high``), and
    whether both targets' models at both widths learned their target (``E_m(0)/E_null ≤ learned``, from
    ``stability``). The curse claim's table."""
    rows = crossings.assign(
        crossing=point_values(crossings["crossing_low"], crossings["crossing_high"]),
        learned=_widths_learned(crossings, stability, learned),
    )
    keys = ["activation", "parameterization", "width_small", "width_large", "seed"]
    return _pol_against_exp(rows, keys, "crossing", targets)


def pair_tables(
    stability: pd.DataFrame, crossings: pd.DataFrame, thresholds: dict
) -> dict[str, pd.DataFrame]:
    """The curse claim's tables read off a stability and a crossings table (``thresholds``: the config's
    ``claims``): ``crossing_pairs``, its verdict's, and ``radius_pairs``, its radius reading's."""
    targets, learned = thresholds["curse_targets"], thresholds["learned"]
    return {
        "crossing_pairs": crossing_pairs(stability, crossings, targets, learned),
        "radius_pairs": radius_pairs(stability, targets, learned),
    }


def _error_falls(select: dict, thresholds: dict) -> Condition:
    return Condition(
        name="error",
        statement="E_m(0) falls as m grows",
        table="stability",
        statistic="error_trend",
        side="below",
        threshold=thresholds["error_slope"],
        select=select,
    )


def _kept(quantity: str, select: dict, thresholds: dict, shrinks: bool = False) -> Condition:
    """The radius (``quantity = radius``) or the crossing points (``crossing``) keep their place, or with
    ``shrinks`` move left."""
    trend = TRENDS[quantity]
    statement = f"{trend.words} {'shrink' if shrinks else 'do not shrink'} as m grows"
    side = "below" if shrinks else "at least"
    return Condition(
        name=trend.name,
        statement=statement,
        table=trend.table,
        statistic=f"{quantity}_trend",
        side=side,
        threshold=thresholds[trend.threshold],
        select=select,
    )


def _contrast(quantity: str, select: dict, baseline: dict, thresholds: dict) -> Condition:
    unreparameterised = baseline["parameterization"]
    return Condition(
        name="contrast",
        statement=f"its {quantity} trend is above the unreparameterised family's ({unreparameterised})",
        table=TRENDS[quantity].table,
        statistic=f"{quantity}_trend",
        side="above",
        threshold=thresholds["contrast"],
        select=select,
        baseline=baseline,
    )


def stable_claim(
    claim: str,
    figure: str,
    statement: str,
    quantity: str,
    select: dict,
    thresholds: dict,
    baseline: dict | None = None,
) -> Claim:
    """Definition 3.5's stable approximation: ``E_m(0)`` falls and the crossings (radius) do not shrink,
    and with a ``baseline`` family the trend is above the baseline's."""
    conditions = (_error_falls(select, thresholds), _kept(quantity, select, thresholds))
    if baseline is not None:
        conditions += (_contrast(quantity, select, baseline, thresholds),)
    return Claim(claim, figure, statement, conditions)


def curse_claim(
    claim: str, figure: str, statement: str, quantity: str, select: dict, thresholds: dict
) -> Claim:
    """The curse of memory: ``E_m(0)`` falls but the crossings (radius) shrink."""
    conditions = (_error_falls(select, thresholds), _kept(quantity, select, thresholds, shrinks=True))
    return Claim(claim, figure, statement, conditions)


def least_squares_claims(config: dict) -> list[Claim]:
    """Figures 1a, 1b and 4 on the least-squares fits: exp memory approximated stably, pol memory cursed,
    and each rate map of Figure 4 against the direct rates."""
    if not config["lstsq"]["targets"]:
        return []
    thresholds, fig1, fig4 = config["claims"], config["figures"]["fig1"], config["figures"]["fig4"]
    exp_target, pol_target = fig1["targets"][:2]
    direct = {"study": "lstsq", "parameterization": fig1["parameterization"]}
    baseline = {"study": "lstsq", "target": fig4["target"], "parameterization": direct["parameterization"]}
    return [
        stable_claim(
            claim="1a",
            figure="1a",
            statement="exp memory: the least-squares fits approximate stably (E_m(0) falls, the radius "
            "stays)",
            quantity="radius",
            select={**direct, "target": exp_target},
            thresholds=thresholds,
        ),
        curse_claim(
            claim="1b",
            figure="1b",
            statement="pol memory: E_m(0) falls but the crossing points move left (the curse of memory)",
            quantity="crossing",
            select={**direct, "target": pol_target},
            thresholds=thresholds,
        ),
        *(
            stable_claim(
                claim=f"4-{rates}",
                figure="4",
                statement=f"{rates} reparameterisation: crossing points no longer move left",
                quantity="crossing",
                select={**baseline, "parameterization": rates},
                thresholds=thresholds,
                baseline=baseline,
            )
            for rates in fig4["parameterizations"]
        ),
    ]


def nonlinear_claims(config: dict) -> list[Claim]:
    """Figure 2: the nonlinear functional with polynomial memory carries the curse to tanh RNNs."""
    study = config["figures"]["fig2"]["study"]
    if study not in config["studies"]:
        return []
    statement = (
        "nonlinear functional with polynomial memory: E_m(0) falls but the crossing points of tanh RNNs "
        "move left"
    )
    return [curse_claim("2", "2", statement, "crossing", {"study": study}, config["claims"])]


def teacher_claims(config: dict) -> list[Claim]:
    """Figure 3: every teacher its students learned has exponentially decaying memory."""
    if config["figures"]["fig3"]["study"] not in config["studies"]:
        return []
    thresholds = config["claims"]
    exponential = Condition(
        name="exponential",
        statement="surviving teachers decay exponentially",
        table="teachers",
        statistic="fraction",
        side="at least",
        threshold=thresholds["exponential_fraction"],
        select={"survived": True},
        column="decays_exponentially",
    )
    statement = (
        "every surviving teacher's memory decays exponentially (needs at least "
        f"{thresholds['minimum_replicates']} survivors)"
    )
    return [Claim("3", "3", statement, (exponential,), unit="target")]


def memory_definition_claims(config: dict) -> list[Claim]:
    """Figure 10: the Heaviside and impulse memory functions of each model family agree."""
    threshold = config["claims"]["agreement_l1_difference"]
    return [
        Claim(
            f"10-{family}",
            "10",
            f"{family.upper()}: Heaviside and impulse memory functions agree",
            (
                Condition(
                    name="agreement",
                    statement="the two memory functions agree",
                    table="definitions",
                    statistic="median",
                    side="below",
                    threshold=threshold,
                    select={"family": family},
                    column="relative_l1_difference",
                ),
            ),
            note_column="log_correlation",
        )
        for family in config["memory_definitions"]["families"]
    ]


def nondecaying_claims(config: dict) -> list[Claim]:
    """Figure 11: the paper's 2-D tanh RNN keeps a non-decaying memory (one fixed model, no replicates)."""
    tail = Condition(
        name="tail",
        statement="its memory's tail stays up",
        table="nondecaying",
        statistic="median",
        side="at least",
        threshold=config["nondecaying_memory"]["tail_threshold"],
        select={"model": "paper 2-D"},
        column="tail_ratio",
    )
    return [Claim("11", "11", "the 2-D tanh RNN's memory does not decay", (tail,), unit=None)]


def transformer_claims(config: dict) -> list[Claim]:
    """Figure 12: RNN students learn the transformer teacher, and the widest is no better than the
    narrowest (meaningful only for students that learned, hence the conjunction)."""
    study, thresholds = config["figures"]["fig12"]["study"], config["claims"]
    if study not in config["studies"]:
        return []
    students = {"study": study}
    learned = Condition(
        name="learned",
        statement="the students learned the teacher (E_m(0) / E_null, median over models)",
        table="stability",
        statistic="median",
        side="below",
        threshold=thresholds["learned"],
        select=students,
        column="relative_error_at_zero",
    )
    no_improvement = Condition(
        name="no-improvement",
        statement="the widest student's E_m(0) stays near the narrowest's",
        table="stability",
        statistic="widest_to_narrowest",
        side="at least",
        threshold=thresholds["improvement_ratio"],
        select=students,
    )
    statement = "transformer teacher: RNN students learn it, but larger students fail to improve"
    return [Claim("12", "12", statement, (learned, no_improvement))]


def paper_claims(config: dict) -> list[Claim]:
    """The claims of docs/paper.md §5 for the figures this config builds, with the config's thresholds:
    every builder of :data:`CLAIM_BUILDERS` in turn (a builder whose study is off gives none)."""
    return [claim for build in CLAIM_BUILDERS for claim in build(config)]


def main_grid_claims(config: dict, quantity: str) -> list[Claim]:
    """Figures 7 and 8 and the curse of memory on the main grid, read on ``quantity``: ``crossing`` (the
    crossing points of consecutive widths, Definition 3.5's statistic: their verdicts) or ``radius`` (the
    stability radius: their second reading, :func:`radius_reading`). Both readings build the same claims
    condition for condition."""
    thresholds, fig7, fig8 = config["claims"], config["figures"]["fig7"], config["figures"]["fig8"]
    trend = TRENDS[quantity]
    baseline = thresholds["baseline_parameterization"]  # the unreparameterised form every stable one faces
    main = {"study": MAIN_STUDY, "target": fig7["target"], "activation": fig7["activation"]}
    claims = []
    if baseline in fig7["parameterizations"]:
        claims.append(
            curse_claim(
                "7-without",
                "7",
                f"{fig7['activation']} RNN without reparameterisation ({baseline}): E_m(0) falls but "
                f"{trend.words} move toward 0 as m grows",
                quantity,
                {**main, "parameterization": baseline},
                thresholds,
            )
        )
    # one claim per stable form of each figure: Figure 7's forms on its activation, Figure 8's on each of its
    stable_cells = [("7", fig7["target"], fig7["activation"], p) for p in fig7["parameterizations"]]
    stable_cells += [
        ("8", fig8["target"], a, p) for p in fig8["parameterizations"] for a in fig8["activations"]
    ]
    for figure, target, activation, parameterization in stable_cells:
        if parameterization == baseline:
            continue
        cell = {"study": MAIN_STUDY, "target": target, "activation": activation}
        name = f"7-with-{parameterization}" if figure == "7" else f"8-{activation}-{parameterization}"
        claims.append(
            stable_claim(
                name,
                figure,
                f"{activation} RNN with {parameterization} reparameterisation approximates {target} memory "
                f"stably, unlike {baseline}",
                quantity,
                {**cell, "parameterization": parameterization},
                thresholds,
                {**cell, "parameterization": baseline},
            )
        )
    curse = Condition(
        name="curse",
        statement=f"pol {trend.name} below exp {trend.name}",
        table=trend.pairs,
        statistic="fraction",
        side="at least",
        threshold=thresholds["curse_fraction"],
        select={"parameterization": thresholds["unstable_parameterizations"], "both_learned": True},
        column="pol_below_exp",
    )
    statement = (
        f"without reparameterisation {trend.words} of pol memory lie left of exp memory's (models that "
        "learned both)"
    )
    return [*claims, Claim("curse", "7/8 grid", statement, (curse,))]


def radius_reading(config: dict, tables: dict[str, pd.DataFrame], settings: dict) -> pd.DataFrame:
    """The second reading of Figures 7, 8 and ``curse``: the claims table of the same claims built on the
    stability radius (:func:`main_grid_claims`), each row named as the row of the crossing claims it reads
    again (``7-with-softplus.radius`` as ``7-with-softplus.crossings``), for
    :func:`~curse_of_memory.claims.with_reading` (``settings``: :func:`curse_of_memory.claims.evaluate`)."""
    readings, claims = main_grid_claims(config, "radius"), main_grid_claims(config, "crossing")
    names = {
        f"{reading.claim}.{again.name}": f"{claim.claim}.{condition.name}"
        for claim, reading in zip(claims, readings, strict=True)
        for condition, again in zip(claim.conditions, reading.conditions, strict=True)
    }
    table = claims_table(readings, tables, settings)
    return table.assign(claim=table["claim"].map(lambda name: names.get(name, name)))


def claim_epoch(section: dict) -> int:
    """The epoch at which Figure 9's claim compares validation losses: the configured one, else the last."""
    return section["claim_epoch"] or section["epochs"]


def classification_claim(section: dict, gap: float) -> Claim:
    """Figure 9: the stable parameterisations' median validation loss (over seeds, widths and forms) lies
    ``gap`` below the baseline's at :func:`claim_epoch`, on the rows of
    :func:`curse_of_memory.classification_tables.at_epoch` (a diverged run counts as +∞). Its negative
    control is epoch 0, where every form has the same weights."""
    baseline = section["baseline"]
    stable = [name for name in section["parameterizations"] if name != baseline]
    return Claim(
        "9",
        "9",
        f"stable reparameterisation reaches a lower validation loss than {baseline} "
        f"(epoch {claim_epoch(section)})",
        (
            Condition(
                name="lower-loss",
                statement="validation loss, stable forms minus the baseline (nats)",
                table="classification",
                statistic="median",
                side="below",
                threshold=-gap,
                select={"parameterization": stable},
                column="validation_loss",
                baseline={"parameterization": baseline},
            ),
        ),
    )


#: The learning-rate claims' column (:func:`curse_of_memory.learning_rates.largest_stable_learning_rates`).
LARGEST_RATE = "log10_largest_stable_learning_rate"


def learning_rate_claims(section: dict, thresholds: dict) -> list[Claim]:
    """StableSSM's learning-rate claims on the sweep's largest stable learning rates (log10, censored by the
    rate grid: a rate survived is a lower end, the next rate, which diverged, an exclusive upper end). The
    stable forms (neither the baseline nor an unstable baseline) survive the rate at which the baseline
    diverged, with ``learning_rate_gain`` decades to spare (0: the lower end of their rate at least the upper
    end of the baseline's; medians over seeds, widths, targets, forms); and, where the sweep has it,
    ``best`` survives the rate at which the other stable forms diverged. A tie within one step of the grid,
    or rates beyond its top, decide neither."""
    baseline = section["baseline"]
    unstable = {baseline, *thresholds["unstable_parameterizations"]}
    stable = [name for name in section["parameterizations"] if name not in unstable]
    if not stable:
        return []
    claims = [
        Claim(
            "lr-stable",
            "lr",
            f"stable reparameterisation trains at larger learning rates than {baseline} without diverging",
            (
                Condition(
                    name="larger-rate",
                    statement="largest stable learning rate, stable forms minus the baseline (decades)",
                    table="learning_rate",
                    statistic="median",
                    side="at least",
                    threshold=thresholds["learning_rate_gain"],
                    select={"parameterization": stable},
                    column=LARGEST_RATE,
                    baseline={"parameterization": baseline},
                ),
            ),
        )
    ]
    others = [name for name in stable if name != "best"]
    if "best" in stable and others:
        claims.append(
            Claim(
                "lr-best",
                "lr",
                "best tolerates the largest learning rate of the stable forms (StableSSM)",
                (
                    Condition(
                        name="best-rate",
                        statement="largest stable learning rate, best minus the other stable forms (decades)",
                        table="learning_rate",
                        statistic="median",
                        side="at least",
                        threshold=0.0,
                        select={"parameterization": "best"},
                        column=LARGEST_RATE,
                        baseline={"parameterization": others},
                    ),
                ),
            )
        )
    return claims


def main_grid_crossing_claims(config: dict) -> list[Claim]:
    """Figures 7, 8 and the curse of memory, decided on the crossing points (:func:`main_grid_claims`)."""
    return main_grid_claims(config, "crossing")


def classification_claims(config: dict) -> list[Claim]:
    """Figure 9, when the config runs the classification study (:func:`classification_claim`)."""
    section = config["classification"]
    return (
        [classification_claim(section, config["claims"]["classification_loss_gap"])]
        if section["enabled"]
        else []
    )


def learning_rate_sweep_claims(config: dict) -> list[Claim]:
    """StableSSM's learning-rate claims, when the config runs the sweep (:func:`learning_rate_claims`)."""
    section = config["learning_rate_stability"]
    return learning_rate_claims(section, config["claims"]) if section["enabled"] else []


#: The paper's claims, figure by figure, in the order of results/claims.csv: each builder reads the config
#: and gives the claims of the figures it builds.
CLAIM_BUILDERS: tuple[Callable[[dict], list[Claim]], ...] = (
    least_squares_claims,
    nonlinear_claims,
    teacher_claims,
    main_grid_crossing_claims,
    classification_claims,
    learning_rate_sweep_claims,
    memory_definition_claims,
    nondecaying_claims,
    transformer_claims,
)
