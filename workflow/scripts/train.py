"""Rule train: one grid cell's RNN, trained with the configured protocol; checkpoint at best validation."""

from pathlib import Path

import pandas as pd
import torch

from curse_of_memory.artifacts import load_json, save_csv, save_json, save_torch
from curse_of_memory.models import RNN, save_checkpoint_payload
from curse_of_memory.runtime import configure_logging, configure_torch
from curse_of_memory.targets import load_dataset
from curse_of_memory.training import TrainingSettings, chained_stop_level, evaluate_loss, train

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
wildcards, config = snakemake.wildcards, snakemake.params.training
device = configure_torch(snakemake.threads, config["device"])

previous_best = None
if snakemake.input.previous:
    previous_best = load_json(snakemake.input.previous[0], made_by="train")["best_validation_loss"]
stop_below = chained_stop_level(config["chained_early_stopping"], previous_best)
if stop_below is not None:
    log.info(
        "chained early stopping: after %d epochs, stop once the validation loss is below %.4e",
        config["chained_early_stopping"]["minimum_epochs"],
        stop_below,
    )

settings = TrainingSettings.from_config(config, stop_below=stop_below)
arrays, _ = load_dataset(snakemake.input.dataset)
splits = {
    split: tuple(
        torch.as_tensor(arrays[f"{kind}_{split}"], dtype=torch.float64, device=device)[..., None]
        for kind in ("x", "y")
    )
    for split in ("train", "validation", "test")
}
seed = int(wildcards.seed)
model = RNN(
    width=int(wildcards.width),
    activation=wildcards.activation,
    parameterization=wildcards.parameterization,
    dt=snakemake.params.dt,
    seed=seed,
).to(device)
log.info("training %s on %s (%d threads)", model.hyperparameters(), device, torch.get_num_threads())
# Not a declared output: it survives a killed job, so the rerun resumes (see training.py).
resume_path = Path(snakemake.output.checkpoint).with_name("resume.pt")
result = train(model, splits, settings, seed=seed, resume_path=resume_path)

model.load_state_dict(result.best_state)
model.cpu()
test_loss = evaluate_loss(model, *(t.cpu() for t in splits["test"]), settings)
metrics = {
    **{key: wildcards[key] for key in ("target", "activation", "parameterization")},
    "width": int(wildcards.width),
    "seed": seed,
    **result.metrics,
    "test_loss": test_loss,
    "stability_margin": model.stability_margin().item(),
    "stop_below": stop_below,
}
save_torch(snakemake.output.checkpoint, save_checkpoint_payload(model))
save_json(snakemake.output.metrics, metrics)
save_csv(snakemake.output.history, pd.DataFrame(result.history))
resume_path.unlink(missing_ok=True)
log.info("done: %s", metrics)
