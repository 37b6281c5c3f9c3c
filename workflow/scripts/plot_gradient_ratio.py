"""Rule gradient_ratio: the gradient-over-weight ratio along training and against the stability margin."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import gradient_ratio_figure, save_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
ratios = load_csv(snakemake.input.ratios, made_by="summarize_gradient_ratio")
save_figure(gradient_ratio_figure(ratios), snakemake.output)
