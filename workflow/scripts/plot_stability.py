"""Rule stability_figure: stability radius and stability margin against width."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import save_figure, stability_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
stability = load_csv(snakemake.input.stability, made_by="summarize_stability")
stability = stability[stability["study"] == snakemake.params.study]
save_figure(stability_figure(stability), snakemake.output)
