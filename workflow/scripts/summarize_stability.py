"""Rules summarize_stability(_controls): per-model stability estimates and consecutive-width crossing
points (of the trained and fitted models, or of their negative controls)."""

import pandas as pd

from curse_of_memory.artifacts import load_csv, save_csv
from curse_of_memory.design import MODEL_KEYS
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import crossing_table, dataset_null_errors, stability_table, trained_margins

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
params = snakemake.params
perturbation = load_csv(snakemake.input.perturbation, made_by="summarize_perturbation")

null_errors = dataset_null_errors(snakemake.input.datasets, params.targets, params.evaluation)
# the controls' untrained margins are not recorded
margins = [trained_margins(snakemake.input.metrics, params.cells)] if params.cells else []
for path in snakemake.input.lstsq:  # least-squares fits: margin = smallest rate, E_null = sum |rho|
    fits = load_csv(path, made_by="least_squares")
    null_errors.update(fits.groupby("target")["null_error"].first().to_dict())
    for parameterization in perturbation.loc[perturbation["study"] == "lstsq", "parameterization"].unique():
        models = fits.drop_duplicates(["target", "width", "seed"]).assign(parameterization=parameterization)
        margins.append(models)
log.info("zero-predictor errors: %s", null_errors)
margins = pd.concat(margins, ignore_index=True)[[*MODEL_KEYS, "stability_margin"]] if margins else None
stability = stability_table(perturbation, margins, null_errors, params.threshold)
save_csv(snakemake.output.stability, stability)
save_csv(snakemake.output.crossings, crossing_table(perturbation))
log.info("stability:\n%s", stability.to_string())
