"""Rule results_page: the figure-by-figure comparison with the paper (results/results.md)."""

from curse_of_memory.artifacts import atomic_path, load_csv
from curse_of_memory.results_page import results_page
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
inputs = snakemake.input
page = results_page(
    load_csv(inputs.constructions, made_by="least_squares"),
    load_csv(inputs.stability, made_by="summarize_stability"),
    load_csv(inputs.claims, made_by="claims"),
    snakemake.params.lstsq,
)
with atomic_path(snakemake.output.page) as path:
    path.write_text(page)
log.info("wrote %s", snakemake.output.page)
