"""Rule summarize_spectral_stability: the stability table of Figures 7 and 8's models perturbed at
spectral norm (figures.spectral_norm), each target's zero-predictor error taken from the main table."""

from curse_of_memory.artifacts import load_csv, save_csv
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import collect_perturbation, stability_table

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
draws = collect_perturbation(snakemake.input.draws, snakemake.params.cells)
stability = load_csv(snakemake.input.stability, made_by="summarize_stability")
null_errors = stability.groupby("target")["null_error"].first().to_dict()
spectral = stability_table(draws, None, null_errors, snakemake.params.threshold)
save_csv(snakemake.output.stability, spectral)
log.info("spectral-norm stability:\n%s", spectral.to_string())
