"""Rule fig9: training and validation curves of the classification study, by parameterisation."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import classification_figure, save_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
history = load_csv(snakemake.input.history, made_by="summarize_classification")
save_figure(classification_figure(history, snakemake.params.baseline), snakemake.output)
