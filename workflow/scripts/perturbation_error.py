"""Rule perturbation_error_<study>: every (beta, draw) error of each trained model of one family on the
test set, and with the claims' negative controls the same for the family's models at initialisation."""

import pandas as pd
import torch

from curse_of_memory.artifacts import load_dataset, load_torch, save_csv
from curse_of_memory.loss import temporal_weights
from curse_of_memory.models import RNN, model_from_payload
from curse_of_memory.perturbation import fixed_set_loss, perturbation_errors
from curse_of_memory.plugins import load_plugins
from curse_of_memory.runtime import configure_logging, configure_torch
from curse_of_memory.stability import beta_grid

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
load_plugins(snakemake.config["plugins"])  # the config's own registered forms and targets
log = configure_logging(snakemake.log[0])
device = configure_torch(snakemake.threads, snakemake.params.device)  # training.device, as train_<study>
arrays, _ = load_dataset(snakemake.input.dataset)
wildcards, params = snakemake.wildcards, snakemake.params


def draws_table(model: RNN, settings: dict, loss, members: int) -> pd.DataFrame:
    """Rows ``beta, draw, error`` of ``model`` perturbed as ``settings`` (a perturbation section) says."""
    # the authors' relu baselines are perturbed as in their perturb.py: w <- relu(w), then g(w) = w
    betas = beta_grid(**settings["betas"])
    rows = perturbation_errors(
        model.perturbation_model().to(device),
        loss,
        betas,
        settings["draws"],
        settings["seed"],
        members,
        settings["norm"],
        settings["recurrent"],
    )
    return pd.DataFrame(rows)


models = zip(
    params.widths,
    snakemake.input.checkpoints,
    snakemake.output.draws,
    params.perturbation,
    params.loss_weight_power,
    strict=True,
)
for index, (width, checkpoint, draws, settings, loss_weight_power) in enumerate(models):
    # the test set's loss, shared by the trained model and its control
    size = settings["evaluation_size"]
    inputs, targets = (
        torch.as_tensor(arrays[f"{kind}_test"][:size], dtype=torch.float64, device=device)[..., None]
        for kind in "xy"
    )
    weights = temporal_weights(inputs.shape[1], loss_weight_power).to(device)
    loss = fixed_set_loss(inputs, targets, weights)
    # Perturbed models per ensemble forward: at most 2**24 output values (128 MB of float64) at a time.
    members = max(1, min(64, 2**24 // inputs[..., 0].numel()))
    trained = model_from_payload(load_torch(checkpoint, made_by="train"))
    table = draws_table(trained, settings, loss, members)
    save_csv(draws, table)
    log.info(
        "%s: E_m(beta) max over draws:\n%s", checkpoint, table.groupby("beta")["error"].max().to_string()
    )
    if snakemake.output.controls:  # the same model before training: its seed's initialisation
        initial = RNN(
            width, wildcards.activation, wildcards.parameterization, dt=params.dt, seed=int(wildcards.seed)
        )
        control = draws_table(initial, settings, loss, members)
        save_csv(snakemake.output.controls[index], control)
        log.info("control at initialisation: E_m(0) = %.4g", control.loc[control["beta"] == 0, "error"].max())
