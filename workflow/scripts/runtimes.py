"""Rule runtimes: wall-clock seconds per rule from Snakemake's benchmark files."""

from curse_of_memory.artifacts import save_csv
from curse_of_memory.report import runtime_table
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
table = runtime_table({rule: list(snakemake.input[rule]) for rule in snakemake.params.rules})
save_csv(snakemake.output.table, table)
log.info("runtimes:\n%s", table.to_string())
