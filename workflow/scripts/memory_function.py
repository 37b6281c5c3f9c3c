"""Rules model_memory / target_memory: Heaviside and impulse memory functions of one subject.

The subject is a trained model (input ``checkpoint``) or a target functional queried directly
(input ``dataset``).
"""

import numpy as np
import pandas as pd

from curse_of_memory.artifacts import load_torch, save_csv
from curse_of_memory.memory import MEMORY_DEFINITIONS
from curse_of_memory.models import model_from_payload
from curse_of_memory.runtime import configure_logging, configure_torch
from curse_of_memory.targets import load_dataset, target_from_metadata

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
configure_torch(snakemake.threads)
settings = snakemake.params.memory
if hasattr(snakemake.input, "checkpoint"):
    subject = model_from_payload(load_torch(snakemake.input.checkpoint, made_by="train"))
else:
    subject = target_from_metadata(load_dataset(snakemake.input.dataset)[1])
dt = subject.dt
length = settings["length"]
frames = [
    pd.DataFrame(
        {
            "input": name,
            "t": dt * np.arange(length),
            "memory": definition(subject, length, dt, settings["amplitudes"]),
        }
    )
    for name, definition in MEMORY_DEFINITIONS.items()
]
table = pd.concat(frames, ignore_index=True)
save_csv(snakemake.output.memory, table)
log.info("memory at t=0,1,10: %s", table[table["t"].isin([0, dt, 10 * dt])].to_dict("records"))
