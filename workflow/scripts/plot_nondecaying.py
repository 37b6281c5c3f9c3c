"""Rule fig11: the 2-D tanh RNN's phase portrait and memory, and random tanh RNNs' memory functions."""

import matplotlib.pyplot as plt
import numpy as np

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import nondecaying_figure, save_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
memory = load_csv(snakemake.input.memory, made_by="nondecaying_memory")
save_figure(nondecaying_figure(np.asarray(snakemake.params.weights), memory), snakemake.output)
