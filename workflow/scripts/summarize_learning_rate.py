"""Rule summarize_learning_rate: the learning-rate sweep's runs in one table, each model's largest stable
learning rate, and that rate per parameterisation as a Markdown table."""

import pandas as pd

from curse_of_memory.artifacts import atomic_path, load_csv, save_csv
from curse_of_memory.learning_rate_tables import largest_stable_learning_rates, largest_stable_table
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
sweep = pd.concat(
    [load_csv(path, made_by="learning_rate_sweep") for path in snakemake.input.sweeps], ignore_index=True
)
save_csv(snakemake.output.table, sweep)
largest = largest_stable_learning_rates(sweep)
save_csv(snakemake.output.largest, largest)
table = largest_stable_table(sweep)
with atomic_path(snakemake.output.markdown) as path:
    path.write_text(table)
log.info("largest stable learning rate (median over seeds [range]):\n%s", table)
