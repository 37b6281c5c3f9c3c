"""Rule train_<study>: one family's RNNs (every width, in increasing order), each trained with its cell's
settings and the chained early stopping; checkpoint at best validation."""

from pathlib import Path

import pandas as pd
import torch

from curse_of_memory.artifacts import load_dataset, save_csv, save_json, save_torch
from curse_of_memory.models import RNN, save_checkpoint_payload
from curse_of_memory.plugins import load_plugins
from curse_of_memory.runtime import configure_logging, configure_torch
from curse_of_memory.training import TrainingSettings, chained_stop_level, evaluate_loss, train

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
load_plugins(snakemake.config["plugins"])  # the config's own registered forms and targets
log = configure_logging(snakemake.log[0])
wildcards, output = snakemake.wildcards, snakemake.output
device = configure_torch(snakemake.threads, snakemake.params.training[0]["device"])
arrays, _ = load_dataset(snakemake.input.dataset)
splits = {
    split: tuple(
        torch.as_tensor(arrays[f"{kind}_{split}"], dtype=torch.float64, device=device)[..., None]
        for kind in ("x", "y")
    )
    for split in ("train", "validation", "test")
}
seed = int(wildcards.seed)
previous_best = None  # the next-smaller width's best validation loss: the chained stop level
resume_paths = []
for index, (width, config) in enumerate(zip(snakemake.params.widths, snakemake.params.training, strict=True)):
    stop_below = chained_stop_level(config["chained_early_stopping"], previous_best)
    settings = TrainingSettings.from_config(config, stop_below=stop_below)
    model = RNN(width, wildcards.activation, wildcards.parameterization, dt=snakemake.params.dt, seed=seed)
    model.to(device)
    log.info("training %s on %s (%d threads)", model.hyperparameters(), device, torch.get_num_threads())
    if stop_below is not None:
        log.info(
            "chained early stopping: after %d epochs and %d steps, stop once the validation loss is below "
            "%.4e",
            settings.minimum_epochs,
            settings.minimum_steps,
            stop_below,
        )
    # Not a declared output: it survives a killed job, so the rerun resumes (see training.py); removed
    # once the whole family is done, so that a rerun of a killed family resumes every width near its end.
    resume_path = Path(output.checkpoint[index]).with_name("resume.pt")
    resume_paths.append(resume_path)
    result = train(model, splits, settings, seed=seed, resume_path=resume_path)
    model.load_state_dict(result.best_state)
    model.cpu()
    test_loss = evaluate_loss(model, *(t.cpu() for t in splits["test"]), settings)
    metrics = {
        **{key: wildcards[key] for key in ("target", "activation", "parameterization")},
        "width": width,
        "seed": seed,
        **result.metrics,
        "test_loss": test_loss,
        "stability_margin": model.stability_margin().item(),
        "stop_below": stop_below,
    }
    save_torch(output.checkpoint[index], save_checkpoint_payload(model))
    save_json(output.metrics[index], metrics)
    save_csv(output.history[index], pd.DataFrame(result.history))
    previous_best = result.metrics["best_validation_loss"]
    log.info("done: %s", metrics)
for resume_path in resume_paths:
    resume_path.unlink(missing_ok=True)
