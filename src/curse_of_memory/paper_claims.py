"""The paper's claims (docs/paper.md §5) as :class:`~curse_of_memory.claims.Claim` s, with the config's
thresholds, and the derived table they read besides the summaries (:func:`radius_pairs`).

Stable approximation (Definition 3.5) is a conjunction: ``E_m(0)`` falls as m grows *and* the stability
radius (or the crossing points) does not shrink. The curse of memory is the other conjunction: ``E_m(0)``
falls *but* the radius (crossings) shrinks. "Reparameterisation fixes the curse" adds a contrast: the
reparameterised family's trend minus the unreparameterised family's, on the same target and activation.
Figure 12's "larger students fail to improve" only means something for students that learned the teacher,
so it is conjoined with that.
"""

from __future__ import annotations

import pandas as pd

from curse_of_memory.claims import Claim, Condition


def radius_pairs(stability: pd.DataFrame, exp_target: str, pol_target: str, learned: float) -> pd.DataFrame:
    """Per (activation, parameterisation, width, seed) of the main study: both targets' radii, whether the
    pol radius is below the exp radius (point, certainly: ``_low``, possibly: ``_high``, from the radii's
    grid intervals), and whether both models learned their target (``E_m(0)/E_null ≤ learned``)."""
    keys = ["activation", "parameterization", "width", "seed"]
    main = stability[stability["study"] == "trained"]
    columns = ["stability_radius", "radius_low", "radius_high", "relative_error_at_zero"]
    exp = main[main["target"] == exp_target].set_index(keys)[columns]
    pol = main[main["target"] == pol_target].set_index(keys)[columns]
    pairs = exp.merge(pol, left_index=True, right_index=True, suffixes=("_exp", "_pol")).reset_index()
    return pd.DataFrame(
        {
            **{key: pairs[key] for key in keys},
            "study": "trained",
            "exp_radius": pairs["stability_radius_exp"],
            "pol_radius": pairs["stability_radius_pol"],
            "pol_below_exp": pairs["stability_radius_pol"] < pairs["stability_radius_exp"],
            "pol_below_exp_low": pairs["radius_high_pol"] < pairs["radius_low_exp"],
            "pol_below_exp_high": pairs["radius_low_pol"] < pairs["radius_high_exp"],
            "both_learned": (pairs["relative_error_at_zero_exp"] <= learned)
            & (pairs["relative_error_at_zero_pol"] <= learned),
        }
    )


#: ``quantity → (table, threshold key, condition name, words)`` of the two trends Definition 3.5 reads.
TRENDS = {
    "radius": ("stability", "radius_slope", "radius", "the stability radius"),
    "crossing": ("crossings", "crossing_slope", "crossings", "the crossing points"),
}


def _error_falls(select: dict, thresholds: dict) -> Condition:
    return Condition(
        "error",
        "E_m(0) falls as m grows",
        "stability",
        "error_trend",
        "below",
        thresholds["error_slope"],
        select,
    )


def _kept(quantity: str, select: dict, thresholds: dict, shrinks: bool = False) -> Condition:
    """The radius (``quantity = radius``) or the crossing points (``crossing``) keep their place, or with
    ``shrinks`` move left."""
    table, threshold, name, words = TRENDS[quantity]
    statement = f"{words} {'shrink' if shrinks else 'do not shrink'} as m grows"
    side = "below" if shrinks else "at least"
    return Condition(name, statement, table, f"{quantity}_trend", side, thresholds[threshold], select)


def _contrast(quantity: str, select: dict, baseline: dict, thresholds: dict) -> Condition:
    return Condition(
        "contrast",
        f"its {quantity} trend is above the unreparameterised family's ({baseline['parameterization']})",
        TRENDS[quantity][0],
        f"{quantity}_trend",
        "above",
        thresholds["contrast"],
        select,
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
    """Definition 3.5's stable approximation: ``E_m(0)`` falls and the radius (crossings) does not shrink,
    and with a ``baseline`` family the trend is above the baseline's."""
    conditions = (_error_falls(select, thresholds), _kept(quantity, select, thresholds))
    if baseline is not None:
        conditions += (_contrast(quantity, select, baseline, thresholds),)
    return Claim(claim, figure, statement, conditions)


def curse_claim(
    claim: str, figure: str, statement: str, quantity: str, select: dict, thresholds: dict
) -> Claim:
    """The curse of memory: ``E_m(0)`` falls but the radius (crossings) shrinks."""
    conditions = (_error_falls(select, thresholds), _kept(quantity, select, thresholds, shrinks=True))
    return Claim(claim, figure, statement, conditions)


def paper_claims(config: dict) -> list[Claim]:
    """The claims of docs/paper.md §5 for the figures this config builds, with the config's thresholds."""
    thresholds, figures, studies = config["claims"], config["figures"], config["studies"]
    claims: list[Claim] = []
    if config["lstsq"]["targets"]:
        exp_target, pol_target = figures["fig1"]["targets"][:2]
        direct = {"study": "lstsq", "parameterization": figures["fig1"]["parameterization"]}
        exp, pol = {**direct, "target": exp_target}, {**direct, "target": pol_target}
        claims += [
            stable_claim(
                "1a",
                "1a",
                "exp memory: the least-squares fits approximate stably (E_m(0) falls, the radius stays)",
                "radius",
                exp,
                thresholds,
            ),
            curse_claim(
                "1b",
                "1b",
                "pol memory: E_m(0) falls but the crossing points move left (the curse of memory)",
                "crossing",
                pol,
                thresholds,
            ),
        ]
        fig4 = figures["fig4"]
        baseline = {
            "study": "lstsq",
            "target": fig4["target"],
            "parameterization": direct["parameterization"],
        }
        for parameterization in fig4["parameterizations"]:
            claims.append(
                stable_claim(
                    f"4-{parameterization}",
                    "4",
                    f"{parameterization} reparameterisation: crossing points no longer move left",
                    "crossing",
                    {**baseline, "parameterization": parameterization},
                    thresholds,
                    baseline,
                )
            )
    if figures["fig2"]["study"] in studies:
        claims.append(
            curse_claim(
                "2",
                "2",
                "nonlinear functional with polynomial memory: E_m(0) falls but the crossing points of tanh "
                "RNNs move left",
                "crossing",
                {"study": figures["fig2"]["study"]},
                thresholds,
            )
        )
    if figures["fig3"]["study"] in studies:
        claims.append(
            Claim(
                "3",
                "3",
                "every surviving teacher's memory decays exponentially (needs at least "
                f"{thresholds['minimum_replicates']} survivors)",
                (
                    Condition(
                        "exponential",
                        "surviving teachers decay exponentially",
                        "teachers",
                        "fraction",
                        "at least",
                        thresholds["exponential_fraction"],
                        {"survived": True},
                        "decays_exponentially",
                    ),
                ),
                unit="target",
            )
        )
    fig7, fig8 = figures["fig7"], figures["fig8"]
    without, with_ = fig7["parameterizations"][0], fig7["parameterizations"][-1]
    main = {"study": "trained", "target": fig7["target"], "activation": fig7["activation"]}
    claims += [
        curse_claim(
            "7-without",
            "7",
            f"{fig7['activation']} RNN without reparameterisation ({without}): E_m(0) falls but the radius "
            "shrinks as m grows",
            "radius",
            {**main, "parameterization": without},
            thresholds,
        ),
        stable_claim(
            "7-with",
            "7",
            f"{fig7['activation']} RNN with {with_} reparameterisation approximates stably, unlike {without}",
            "radius",
            {**main, "parameterization": with_},
            thresholds,
            {**main, "parameterization": without},
        ),
    ]
    for activation in fig8["activations"]:
        cell = {"study": "trained", "target": fig8["target"], "activation": activation}
        baseline = thresholds["baseline_parameterization"]
        claims.append(
            stable_claim(
                f"8-{activation}",
                "8",
                f"{activation} RNN with {fig8['parameterization']} reparameterisation approximates pol "
                f"memory stably, unlike {baseline}",
                "radius",
                {**cell, "parameterization": fig8["parameterization"]},
                thresholds,
                {**cell, "parameterization": baseline},
            )
        )
    claims.append(
        Claim(
            "curse",
            "7/8 grid",
            "without reparameterisation the pol target's radius is below the exp target's (models that "
            "learned both)",
            (
                Condition(
                    "curse",
                    "pol radius below exp radius",
                    "radius_pairs",
                    "fraction",
                    "at least",
                    thresholds["curse_fraction"],
                    {"parameterization": thresholds["unstable_parameterizations"], "both_learned": True},
                    "pol_below_exp",
                ),
            ),
        )
    )
    if config["classification"]["enabled"]:
        claims.append(classification_claim(config["classification"], thresholds["classification_loss_gap"]))
    if config["learning_rate_stability"]["enabled"]:
        claims += learning_rate_claims(config["learning_rate_stability"], thresholds)
    for family in config["memory_definitions"]["families"]:
        claims.append(
            Claim(
                f"10-{family}",
                "10",
                f"{family.upper()}: Heaviside and impulse memory functions agree",
                (
                    Condition(
                        "agreement",
                        "the two memory functions agree",
                        "definitions",
                        "median",
                        "below",
                        thresholds["agreement_l1_difference"],
                        {"family": family},
                        "relative_l1_difference",
                    ),
                ),
                note_column="log_correlation",
            )
        )
    claims.append(
        Claim(
            "11",
            "11",
            "the 2-D tanh RNN's memory does not decay",
            (
                Condition(
                    "tail",
                    "its memory's tail stays up",
                    "nondecaying",
                    "median",
                    "at least",
                    config["nondecaying_memory"]["tail_threshold"],
                    {"model": "paper 2-D"},
                    "tail_ratio",
                ),
            ),
            unit=None,  # one fixed model: no replicates, the value is exact
        )
    )
    if figures["fig12"]["study"] in studies:
        students = {"study": figures["fig12"]["study"]}
        claims.append(
            Claim(
                "12",
                "12",
                "transformer teacher: RNN students learn it, but larger students fail to improve",
                (
                    Condition(
                        "learned",
                        "the students learned the teacher (E_m(0) / E_null, median over models)",
                        "stability",
                        "median",
                        "below",
                        thresholds["learned"],
                        students,
                        "relative_error_at_zero",
                    ),
                    Condition(
                        "no-improvement",
                        "the widest student's E_m(0) stays near the narrowest's",
                        "stability",
                        "widest_to_narrowest",
                        "at least",
                        thresholds["improvement_ratio"],
                        students,
                    ),
                ),
            )
        )
    return claims


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
                "lower-loss",
                "validation loss, stable forms minus the baseline (nats)",
                "classification",
                "median",
                "below",
                -gap,
                {"parameterization": stable},
                "validation_loss",
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
                    "larger-rate",
                    "largest stable learning rate, stable forms minus the baseline (decades)",
                    "learning_rate",
                    "median",
                    "at least",
                    thresholds["learning_rate_gain"],
                    {"parameterization": stable},
                    LARGEST_RATE,
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
                        "best-rate",
                        "largest stable learning rate, best minus the other stable forms (decades)",
                        "learning_rate",
                        "median",
                        "at least",
                        0.0,
                        {"parameterization": "best"},
                        LARGEST_RATE,
                        baseline={"parameterization": others},
                    ),
                ),
            )
        )
    return claims
