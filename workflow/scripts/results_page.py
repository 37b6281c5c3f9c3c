"""Rule results_page: the figure-by-figure comparison with the paper (results/results.md)."""

from pathlib import Path

from curse_of_memory.artifacts import atomic_path, load_csv
from curse_of_memory.results_page import results_page
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import collect_perturbation, stability_table

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
inputs = snakemake.input
stability = load_csv(inputs.stability, made_by="summarize_stability")
spectral = None
if inputs.spectral:  # Figures 7 and 8's families perturbed at spectral norm (figures.spectral_norm)
    draws = collect_perturbation(inputs.spectral, snakemake.params.spectral_cells)
    null_errors = stability.groupby("target")["null_error"].first().to_dict()
    spectral = stability_table(draws, None, null_errors, snakemake.params.threshold)
classification = [load_csv(path, made_by="summarize_classification") for path in inputs.classification_test]
worst_case = [load_csv(path, made_by="summarize_worst_case") for path in inputs.worst_case]
learning_rate = [Path(path).read_text() for path in inputs.learning_rate]
page = results_page(
    load_csv(inputs.constructions, made_by="least_squares"),
    stability,
    load_csv(inputs.crossings, made_by="summarize_stability"),
    load_csv(inputs.claims, made_by="claims"),
    snakemake.params.lstsq,
    spectral,
    classification[0] if classification else None,
    worst_case[0] if worst_case else None,
    learning_rate[0] if learning_rate else None,
)
with atomic_path(snakemake.output.page) as path:
    path.write_text(page)
log.info("wrote %s", snakemake.output.page)
