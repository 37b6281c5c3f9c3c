"""Rule worst_case_<norm>: the worst-case perturbation error of each model of one main-grid family,
climbed by projected gradient ascent from the model's random draws at the same norm."""

import pandas as pd
import torch

from curse_of_memory.artifacts import load_csv, load_dataset, load_torch, save_csv
from curse_of_memory.loss import temporal_weights
from curse_of_memory.models import model_from_payload
from curse_of_memory.perturbation import fixed_set_loss
from curse_of_memory.plugins import load_plugins
from curse_of_memory.runtime import configure_logging, configure_torch
from curse_of_memory.worst_case import worst_case_errors

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
load_plugins(snakemake.config["plugins"])  # the config's own registered forms and targets
log = configure_logging(snakemake.log[0])
configure_torch(snakemake.threads)
arrays, _ = load_dataset(snakemake.input.dataset)
params = snakemake.params
settings, perturbation = params.worst_case, params.perturbation
size = perturbation["evaluation_size"]
inputs, targets = (
    torch.as_tensor(arrays[f"{kind}_test"][:size], dtype=torch.float64)[..., None] for kind in "xy"
)
# the ascent climbs a seeded subset of the evaluation set; what it finds is evaluated on all of it
chosen = torch.randperm(size, generator=torch.Generator().manual_seed(settings["seed"]))
chosen = chosen[: settings["ascent_size"] or size].sort().values

models = zip(
    snakemake.input.checkpoints,
    snakemake.input.draws,
    snakemake.output.worst_case,
    params.loss_weight_power,
    strict=True,
)
for checkpoint, draws, output, loss_weight_power in models:
    weights = temporal_weights(inputs.shape[1], loss_weight_power)
    model = model_from_payload(load_torch(checkpoint, made_by="train"))
    # Perturbed models per ascent pass: at most params.traced_values state values traced at a time.
    members = max(1, min(64, params.traced_values // (len(chosen) * inputs.shape[1] * model.width)))
    table = pd.DataFrame(
        worst_case_errors(
            model.perturbation_model(),  # perturbed as the random draws were (the relu baselines: g(w) = w)
            load_csv(draws, made_by="perturbation_error"),
            fixed_set_loss(inputs, targets, weights),
            fixed_set_loss(inputs[chosen], targets[chosen], weights),
            perturbation["seed"],
            params.norm,
            settings["starts"],
            settings["steps"],
            settings["step_size"],
            members,
            perturbation["recurrent"],  # the draws' recurrent directions, drawn again
        )
    )
    save_csv(output, table.assign(norm=params.norm))
    log.info("%s (%s norm): worst case / random:\n%s", checkpoint, params.norm, table.to_string())
