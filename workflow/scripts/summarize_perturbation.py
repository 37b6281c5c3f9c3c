"""Rule summarize_perturbation: every draw of every model in one tidy table (study = trained)."""

import pandas as pd

from curse_of_memory.artifacts import load_csv, save_csv
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import MODEL_KEYS

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
frames = [
    load_csv(path, made_by="perturbation_error").assign(study="trained", **cell)
    for path, cell in zip(snakemake.input.draws, snakemake.params.cells, strict=True)
]
table = pd.concat(frames, ignore_index=True)[[*MODEL_KEYS, "beta", "draw", "error"]]
save_csv(snakemake.output.table, table)
log.info("%d rows from %d models", len(table), len(frames))
