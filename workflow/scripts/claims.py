"""Rule claims: every claim of the paper, evaluated on the summaries -> results/claims.csv and .md."""

from curse_of_memory.artifacts import atomic_path, load_csv, save_csv
from curse_of_memory.claims import claims_table, markdown_table, paper_claims, radius_pairs
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
config = snakemake.config
inputs = snakemake.input
stability = load_csv(inputs.stability, made_by="summarize_stability")
curse = config["claims"]["curse_targets"]
tables = {
    "stability": stability,
    "crossings": load_csv(inputs.crossings, made_by="summarize_stability"),
    "radius_pairs": radius_pairs(stability, curse["exp"], curse["pol"]),
    "definitions": load_csv(inputs.definitions, made_by="memory_definitions"),
    "nondecaying": load_csv(inputs.nondecaying, made_by="nondecaying_memory").drop_duplicates("model"),
}
for path in inputs.teachers:  # only when the config has Figure 3's study
    tables["teachers"] = load_csv(path, made_by="teacher_filter")
claims = claims_table(paper_claims(config), tables, **config["claims"]["bootstrap"])
save_csv(snakemake.output.table, claims)
with atomic_path(snakemake.output.markdown) as path:
    path.write_text(markdown_table(claims))
log.info("claims:\n%s", claims.to_string())
