"""Rule learning_rate_stability: final validation loss and divergence against the learning rate."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import learning_rate_figure, save_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
sweep = load_csv(snakemake.input.sweep, made_by="summarize_learning_rate")
save_figure(learning_rate_figure(sweep, snakemake.params.baseline), snakemake.output)
