"""Rule summarize_stability: per-model stability estimates and consecutive-width crossing points."""

import pandas as pd

from curse_of_memory.artifacts import load_csv, load_json, save_csv
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import MODEL_KEYS, crossing_table, null_error, stability_table
from curse_of_memory.targets import load_dataset
from curse_of_memory.training import temporal_weights

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
params = snakemake.params
perturbation = load_csv(snakemake.input.perturbation, made_by="summarize_perturbation")

null_errors = {}
for target, path in zip(params.targets, snakemake.input.datasets, strict=True):
    outputs = load_dataset(path)[0]["y_test"][: params.evaluation_size]
    weights = temporal_weights(outputs.shape[1], params.loss_weight_power).numpy()
    null_errors[target] = null_error(outputs, weights)
log.info("zero-predictor errors: %s", null_errors)

margins = pd.DataFrame(
    [
        {
            **cell,
            "study": "trained",
            "stability_margin": load_json(path, made_by="train")["stability_margin"],
        }
        for path, cell in zip(snakemake.input.metrics, params.cells, strict=True)
    ]
)[[*MODEL_KEYS, "stability_margin"]]
stability = stability_table(perturbation, margins, null_errors, params.threshold)
save_csv(snakemake.output.stability, stability)
save_csv(snakemake.output.crossings, crossing_table(perturbation))
log.info("stability:\n%s", stability.to_string())
