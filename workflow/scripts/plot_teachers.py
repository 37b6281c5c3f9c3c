"""Rule fig3: teacher filtering — one kept teacher's students and every teacher's memory function."""

import matplotlib.pyplot as plt
import pandas as pd

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import save_figure, teacher_figure
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import collect_perturbation, crossing_table

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
params = snakemake.params
teachers = load_csv(snakemake.input.teachers, made_by="teacher_filter")
# the example: the first surviving family (config order), else the first family
example = teachers.loc[teachers["survived"]].iloc[0] if teachers["survived"].any() else teachers.iloc[0]
example = example[["target", "activation", "parameterization", "seed"]].to_dict()
log.info("example teacher: %s", example)
perturbation = collect_perturbation(snakemake.input.draws, params.cells)
chosen = (perturbation[list(example)] == pd.Series(example)).all(axis=1)
memory = pd.concat(
    [
        load_csv(path, made_by="target_memory").assign(target=target)
        for path, target in zip(snakemake.input.memory, params.targets, strict=True)
    ]
)
figure = teacher_figure(
    teachers,
    memory[memory["input"] == "heaviside"],
    perturbation[chosen],
    crossing_table(perturbation[chosen]),
    example,
    params.title,
)
save_figure(figure, snakemake.output)
