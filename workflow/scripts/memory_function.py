"""Rules model_memory_<study> / target_memory: Heaviside and impulse memory functions.

The subjects are the trained models of one study (inputs ``checkpoints``, one output each) or a target
functional queried directly (input ``dataset``).
"""

import numpy as np
import pandas as pd

from curse_of_memory.artifacts import load_dataset, load_torch, save_csv
from curse_of_memory.memory import MEMORY_DEFINITIONS
from curse_of_memory.models import model_from_payload
from curse_of_memory.plugins import load_plugins
from curse_of_memory.runtime import configure_logging, configure_torch
from curse_of_memory.targets import target_from_metadata

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
load_plugins(snakemake.config["plugins"])  # the config's own registered forms and targets
log = configure_logging(snakemake.log[0])
configure_torch(snakemake.threads)
settings = snakemake.params.memory


def memory_table(subject) -> pd.DataFrame:
    """Every registered memory definition of ``subject``, as rows ``input, t, memory``."""
    dt, length = subject.dt, settings["length"]
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
    return pd.concat(frames, ignore_index=True)


if hasattr(snakemake.input, "checkpoints"):
    subjects = [model_from_payload(load_torch(path, made_by="train")) for path in snakemake.input.checkpoints]
    outputs = list(snakemake.output.memory)
else:
    subjects = [target_from_metadata(load_dataset(snakemake.input.dataset)[1])]
    outputs = [snakemake.output.memory]
for subject, path in zip(subjects, outputs, strict=True):
    table = memory_table(subject)
    save_csv(path, table)
    at = table["t"].isin([0, subject.dt, 10 * subject.dt])
    log.info("%s: memory at t=0,1,10: %s", path, table[at].to_dict("records"))
