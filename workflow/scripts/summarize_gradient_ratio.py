"""Rule summarize_gradient_ratio: the gradient-over-weight ratio and stability margin per epoch of every
trained model (every study's, and the classification study's) as one table."""

import pandas as pd

from curse_of_memory.artifacts import load_csv, save_csv
from curse_of_memory.classification_tables import dataset_label
from curse_of_memory.design import MODEL_KEYS
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
inputs, params = snakemake.input, snakemake.params
COLUMNS = ["gradient_over_weight", "gradient_over_weight_median", "stability_margin"]
section = snakemake.config["classification"]
frames = []
for cell, path in zip(params.cells, inputs.histories, strict=True):
    history = load_csv(path, made_by="train")
    frames.append(history[["epoch", *COLUMNS]].assign(**{key: cell[key] for key in MODEL_KEYS}))
for cell, path in zip(params.classification_cells, inputs.classification, strict=True):
    history = load_csv(path, made_by="fit_classifier")
    keys = {"study": "classification", "target": dataset_label(section), "activation": section["activation"]}
    frames.append(history[["epoch", *COLUMNS]].assign(**keys, **cell))
table = pd.concat(frames, ignore_index=True)[[*MODEL_KEYS, "epoch", *COLUMNS]]
save_csv(snakemake.output.table, table)
log.info("%d rows, %d models", len(table), table.groupby(MODEL_KEYS).ngroups)
