"""Rule summarize_worst_case: every worst-case perturbation error of the main grid in one table, and the
stability radii and crossings read off the worst-case curves (per norm)."""

import pandas as pd

from curse_of_memory.artifacts import load_csv, save_csv
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import (
    WORST_CASE_COLUMNS,
    dataset_null_errors,
    trained_margins,
    worst_case_stability,
)

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
inputs, params = snakemake.input, snakemake.params
frames = [
    load_csv(path, made_by="worst_case").assign(**cell)
    for path, cell in zip(inputs.worst_case, params.cells, strict=True)
]
table = pd.concat(frames, ignore_index=True)[WORST_CASE_COLUMNS]
save_csv(snakemake.output.table, table)
margins = trained_margins(inputs.metrics, params.model_cells)
null_errors = dataset_null_errors(inputs.datasets, params.targets, params.evaluation)
stability, crossings = worst_case_stability(table, margins, null_errors, params.threshold)
save_csv(snakemake.output.stability, stability)
save_csv(snakemake.output.crossings, crossings)
log.info("radius, worst case against random draws:\n%s", stability.to_string())
