"""Rule summarize_perturbation: every draw of every model in one tidy table (study = trained)."""

from curse_of_memory.artifacts import save_csv
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import collect_perturbation

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
table = collect_perturbation(snakemake.input.draws, snakemake.params.cells, study="trained")
save_csv(snakemake.output.table, table)
log.info("%d rows from %d models", len(table), len(snakemake.params.cells))
