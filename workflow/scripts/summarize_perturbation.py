"""Rule summarize_perturbation: every draw of every model of every study in one tidy table."""

import pandas as pd

from curse_of_memory.artifacts import load_csv, save_csv
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import collect_perturbation

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
frames = [collect_perturbation(snakemake.input.draws, snakemake.params.cells)]
frames += [load_csv(path, made_by="least_squares") for path in snakemake.input.lstsq]
table = pd.concat(frames, ignore_index=True)
save_csv(snakemake.output.table, table)
log.info("%d rows; models per study:\n%s", len(table), table.groupby("study")["width"].size().to_string())
