"""Rule teacher_filter: Figure 3's table — each teacher's memory decay and whether it survived."""

from curse_of_memory.artifacts import load_csv, save_csv
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import collect_perturbation, dataset_null_errors, stability_table, teacher_table

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
params = snakemake.params
perturbation = collect_perturbation(snakemake.input.draws, params.cells)
null_errors = dataset_null_errors(snakemake.input.datasets, params.targets, params.evaluation)
stability = stability_table(perturbation, None, null_errors, params.threshold)
memories = {}
for target, path in zip(params.targets, snakemake.input.memory, strict=True):
    memory = load_csv(path, made_by="target_memory")
    memories[target] = memory[memory["input"] == "heaviside"]
table = teacher_table(
    stability,
    memories,
    params.teacher_parameters,
    params.filter["fit_threshold"],
    params.filter["radius_floor"],
    params.filter["radius_slope"],
)
save_csv(snakemake.output.table, table)
log.info("teachers:\n%s", table.to_string())
