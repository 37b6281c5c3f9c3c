"""Rule summarize_memory: memory functions of every target and trained model in one tidy table."""

import pandas as pd

from curse_of_memory.artifacts import load_csv, save_csv
from curse_of_memory.design import MODEL_KEYS
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
params = snakemake.params
frames = [
    load_csv(path, made_by="target_memory").assign(subject=target, kind="target", study=study, target=target)
    for path, target, study in zip(
        snakemake.input.targets, params.targets, params.target_studies, strict=True
    )
]
for path, cell, subject in zip(snakemake.input.models, params.cells, params.subjects, strict=True):
    frames.append(load_csv(path, made_by="model_memory").assign(subject=subject, kind="model", **cell))
columns = ["subject", "kind", "input", "t", "memory", *MODEL_KEYS]
table = pd.concat(frames, ignore_index=True).reindex(columns=columns)
save_csv(snakemake.output.table, table)
log.info("%d rows", len(table))
