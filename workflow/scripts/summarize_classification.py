"""Rule summarize_classification: every run's history and test results as tidy tables, and Table 1."""

import pandas as pd

from curse_of_memory.artifacts import atomic_path, load_csv, load_json, save_csv
from curse_of_memory.classification_tables import (
    HISTORY_COLUMNS,
    TEST_COLUMNS,
    dataset_label,
    markdown,
    table_one,
)
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
inputs, output = snakemake.input, snakemake.output
dataset = dataset_label(snakemake.config["classification"])
histories, tests = [], []
for cell, history_path, test_path in zip(snakemake.params.cells, inputs.histories, inputs.tests, strict=True):
    keys = {"dataset": dataset, **cell}
    histories.append(load_csv(history_path, made_by="fit_classifier").assign(**keys))
    tests.append({**keys, **load_json(test_path, made_by="fit_classifier")})
history = pd.concat(histories, ignore_index=True)[HISTORY_COLUMNS]
test = pd.DataFrame(tests)[TEST_COLUMNS]
save_csv(output.history, history)
save_csv(output.test, test)
table = markdown(table_one(test))
with atomic_path(output.table) as path:
    path.write_text(table)
log.info("Table 1:\n%s", table)
