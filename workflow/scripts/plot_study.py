"""Rules fig2, fig12: a target's measured memory function and its RNN students' E_m(beta)."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import save_figure, study_figure
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import collect_perturbation, crossing_table

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
params = snakemake.params
perturbation = collect_perturbation(snakemake.input.draws, params.cells)
memory = load_csv(snakemake.input.memory, made_by="target_memory")
figure = study_figure(memory, perturbation, crossing_table(perturbation), params.panels, params.title)
save_figure(figure, snakemake.output)
