"""Rule memory_figure: memory functions of trained models against the targets' rho."""

import matplotlib.pyplot as plt

from curse_of_memory.artifacts import load_csv
from curse_of_memory.figures import memory_figure, save_figure
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
configure_logging(snakemake.log[0])
plt.style.use(snakemake.input.style)
memory = load_csv(snakemake.input.memory, made_by="summarize_memory")
memory = memory[memory["study"] == snakemake.params.study]
save_figure(memory_figure(memory, snakemake.params.width), snakemake.output)
