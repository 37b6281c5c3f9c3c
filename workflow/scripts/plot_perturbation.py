"""Rules fig1, fig4, fig7, fig8, perturbation_grid: perturbation-error panels for a list of families.

Reads only the draws of its own panels (per-model tables, or the least-squares study's one table),
so `snakemake fig7` trains only Figure 7's cells.
"""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import perturbation_figure, save_figure
from curse_of_memory.runtime import configure_logging
from curse_of_memory.summary import collect_perturbation, crossing_table

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
params = snakemake.params
if hasattr(snakemake.input, "table"):
    perturbation = load_csv(snakemake.input.table, made_by="least_squares")
else:
    perturbation = collect_perturbation(snakemake.input.draws, params.cells)
figure = perturbation_figure(
    perturbation, crossing_table(perturbation), params.panels, params.columns, params.title
)
save_figure(figure, snakemake.output)
