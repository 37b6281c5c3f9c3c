"""Rule fig10: Heaviside vs impulse memory functions of random RNN/GRU/LSTM/S4D models."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import definitions_figure, save_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
curves = load_csv(snakemake.input.curves, made_by="memory_definitions")
agreement = load_csv(snakemake.input.agreement, made_by="memory_definitions")
save_figure(definitions_figure(curves, agreement), snakemake.output)
