"""Rule memory_definitions: Figure 10's Heaviside vs impulse memory of random RNN/GRU/LSTM/S4D models."""

import numpy as np
import pandas as pd

from curse_of_memory.artifacts import save_csv
from curse_of_memory.memory import MEMORY_DEFINITIONS, definition_agreement
from curse_of_memory.plugins import load_plugins
from curse_of_memory.random_models import random_model
from curse_of_memory.runtime import configure_logging, configure_torch

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
load_plugins(snakemake.config["plugins"])  # the config's own registered forms and targets
log = configure_logging(snakemake.log[0])
configure_torch(snakemake.threads)
settings, memory = snakemake.params.settings, snakemake.params.memory
length, amplitudes = memory["length"], memory["amplitudes"]
curves, agreement = [], []
for family, layer_counts in settings["families"].items():
    for layers in layer_counts:
        for seed in range(settings["seeds"]):
            model = random_model(family, layers, settings["hidden"], seed)
            keys = {"family": family, "layers": layers, "seed": seed}
            values = {
                name: definition(model, length, 1.0, amplitudes)
                for name, definition in MEMORY_DEFINITIONS.items()
            }
            for name, value in values.items():
                curves.append(
                    pd.DataFrame(
                        {**keys, "input": name, "t": np.arange(length, dtype=float), "memory": value}
                    )
                )
            agreement.append({**keys, **definition_agreement(values["heaviside"], values["impulse"])})
agreement = pd.DataFrame(agreement)
save_csv(snakemake.output.curves, pd.concat(curves, ignore_index=True))
save_csv(snakemake.output.agreement, agreement)
log.info(
    "median agreement per family:\n%s",
    agreement.groupby("family")[["relative_l1_difference", "log_correlation"]].median(),
)
