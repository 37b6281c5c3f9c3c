"""Rule worst_case: random against worst-case perturbation errors of the main grid, and their radii."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import save_figure, worst_case_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
worst_case = load_csv(snakemake.input.worst_case, made_by="summarize_worst_case")
stability = load_csv(snakemake.input.stability, made_by="summarize_worst_case")
params = snakemake.params
save_figure(worst_case_figure(worst_case, stability, params.activation, params.norm), snakemake.output)
