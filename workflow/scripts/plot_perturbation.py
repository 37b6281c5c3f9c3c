"""Rules fig7, fig8, perturbation_grid: perturbation-error panels for a list of families."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import perturbation_figure, save_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
perturbation = load_csv(snakemake.input.perturbation, made_by="summarize_perturbation")
crossings = load_csv(snakemake.input.crossings, made_by="summarize_stability")
params = snakemake.params
figure = perturbation_figure(perturbation, crossings, params.panels, params.columns, params.title)
save_figure(figure, snakemake.output)
