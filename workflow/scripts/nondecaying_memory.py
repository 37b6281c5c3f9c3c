"""Rule nondecaying_memory: Figure 11's memory functions (and a step response) of
the paper's 2-D tanh RNN and of random tanh RNNs."""

import numpy as np
import pandas as pd
import torch

from curse_of_memory.artifacts import save_csv
from curse_of_memory.dynamics import random_tanh_weights, tail_ratio, tanh_rnn
from curse_of_memory.memory import heaviside_memory
from curse_of_memory.runtime import configure_logging, configure_torch

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
configure_torch(snakemake.threads)
settings, memory = snakemake.params.settings, snakemake.params.memory
length, amplitudes, tail = memory["length"], memory["amplitudes"], settings["tail"]
subjects = [("paper 2-D", 0.0, 0, settings["weights"], settings["input_weights"], settings["readout"])]
for radius in settings["radii"]:
    for seed in range(settings["seeds"]):
        subjects.append(
            (
                f"random r={radius} seed {seed}",
                radius,
                seed,
                *random_tanh_weights(settings["width"], radius, seed),
            )
        )
frames = []
for name, radius, seed, weights, input_weights, readout in subjects:
    model = tanh_rnn(np.asarray(weights), input_weights, readout)
    values = heaviside_memory(model, length, 1.0, amplitudes)
    # the step response at the amplitude that attains the sup at the last step (zero-input response removed)
    steps = torch.tensor(amplitudes, dtype=torch.float64)[:, None, None] * torch.ones(
        1, length, 1, dtype=torch.float64
    )
    with torch.no_grad():
        responses = (model(steps) - model(torch.zeros_like(steps[:1])))[..., 0].numpy()
    late = np.abs(responses[:, -1] - responses[:, -2]) / np.abs(amplitudes)
    response = responses[int(np.argmax(late))]
    ratio = tail_ratio(values, tail)
    frames.append(
        pd.DataFrame(
            {
                "model": name,
                "radius": radius,
                "seed": seed,
                "t": np.arange(length, dtype=float),
                "memory": values,
                "response": response,
                "tail_ratio": ratio,
                "decays": ratio < settings["tail_threshold"],
            }
        )
    )
table = pd.concat(frames, ignore_index=True)
save_csv(snakemake.output.memory, table)
log.info("non-decaying:\n%s", table.drop_duplicates("model")[["model", "tail_ratio", "decays"]].to_string())
