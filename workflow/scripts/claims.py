"""Rule claims: every claim of the paper evaluated on the summaries -> results/claims.csv and .md, with
Figures 7, 8 and the curse claim read again on the stability radius (their second reading, beside the
verdict on the crossing points); on the negative controls' summaries -> results/controls/claims.csv (beside
each claim in the main table); and the main grid's claims again on its worst-case perturbation errors (a
second verdict column)."""

from curse_of_memory.artifacts import atomic_path, load_csv, save_csv
from curse_of_memory.claims import (
    claims_table,
    controlled,
    covered,
    with_controls,
    with_reading,
    with_worst_case,
)
from curse_of_memory.claims_tables import markdown_table
from curse_of_memory.classification_tables import at_epoch
from curse_of_memory.paper_claims import claim_epoch, pair_tables, paper_claims, radius_reading
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
config, inputs, output = snakemake.config, snakemake.input, snakemake.output
thresholds = config["claims"]
settings = {**thresholds["bootstrap"], "minimum_replicates": thresholds["minimum_replicates"]}


def stability_tables(stability, crossings) -> dict:
    """The stability and crossings tables, and the curse claim's crossing and radius pairs read off them."""
    return {"stability": stability, "crossings": crossings, **pair_tables(stability, crossings, thresholds)}


def model_tables(stability_path: str, crossings_path: str, teacher_paths: list, suffix: str) -> dict:
    """The tables of trained and fitted models that the claims read (``suffix``: ``_controls`` or not)."""
    made_by = f"summarize_stability{suffix}"
    tables = stability_tables(
        load_csv(stability_path, made_by=made_by), load_csv(crossings_path, made_by=made_by)
    )
    for path in teacher_paths:  # only when the config has Figure 3's study
        tables["teachers"] = load_csv(path, made_by=f"teacher_filter{suffix}")
    return tables


claims = paper_claims(config)
tables = {
    **model_tables(inputs.stability, inputs.crossings, inputs.teachers, ""),
    "definitions": load_csv(inputs.definitions, made_by="memory_definitions"),
    "nondecaying": load_csv(inputs.nondecaying, made_by="nondecaying_memory").drop_duplicates("model"),
}
# Figure 9's runs at the claim's epoch; their control is epoch 0, the weights every form shares
classification = [load_csv(path, made_by="summarize_classification") for path in inputs.classification]
for history in classification:
    tables["classification"] = at_epoch(history, claim_epoch(config["classification"]))
for path in inputs.learning_rate:  # the learning-rate sweep's largest stable rates, per model
    tables["learning_rate"] = load_csv(path, made_by="summarize_learning_rate")
table = claims_table(claims, tables, settings)
table = with_reading(table, radius_reading(config, tables, settings), "radius")  # 7, 8, curse on the radius
for path in output.controls:  # with claims.controls.initialization
    control_tables = model_tables(
        inputs.control_stability[0], inputs.control_crossings[0], inputs.control_teachers, "_controls"
    )
    for history in classification:
        control_tables["classification"] = at_epoch(history, 0)
    controls = claims_table(controlled(claims), control_tables, settings)
    controls.insert(0, "control", "initialization")
    save_csv(path, controls)
    log.info("controls:\n%s", controls.to_string())
    table = with_controls(table, controls)
for stability_path, crossings_path in zip(
    inputs.worst_case_stability, inputs.worst_case_crossings, strict=True
):
    norm = snakemake.params.worst_case_norm  # the configured norm where the worst case was climbed at it
    at_norm = [load_csv(path, made_by="summarize_worst_case") for path in (stability_path, crossings_path)]
    worst_tables = stability_tables(*(rows[rows["norm"] == norm].reset_index(drop=True) for rows in at_norm))
    decided = covered(controlled(claims), worst_tables)
    worst = claims_table(decided, worst_tables, settings)
    log.info("on the worst case (%s norm):\n%s", norm, worst.to_string())
    table = with_worst_case(table, worst, norm)
save_csv(output.table, table)
with atomic_path(output.markdown) as path:
    path.write_text(markdown_table(table))
log.info("claims:\n%s", table.to_string())
