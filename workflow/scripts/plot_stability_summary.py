"""Rule stability_summary: stability radius, crossing points and E_m(0) against width for every study."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import save_figure, stability_summary_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
stability = load_csv(snakemake.input.stability, made_by="summarize_stability")
crossings = load_csv(snakemake.input.crossings, made_by="summarize_stability")
save_figure(stability_summary_figure(stability, crossings), snakemake.output)
