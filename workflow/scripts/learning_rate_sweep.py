"""Rule learning_rate_sweep: one (target, parameterization, seed) of the learning-rate stability study,
every width at every learning rate of the grid, each run from the seed's shared initial model."""

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import torch

from curse_of_memory.artifacts import load_dataset, save_csv
from curse_of_memory.learning_rate_tables import COLUMNS
from curse_of_memory.learning_rates import sweep_run
from curse_of_memory.models import RNN, log_uniform_eigenvalues
from curse_of_memory.plugins import load_plugins
from curse_of_memory.runtime import configure_logging, configure_torch
from curse_of_memory.training import TrainingSettings, fingerprint, load_resume, save_resume

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
load_plugins(snakemake.config["plugins"])  # the config's own registered forms and targets
log = configure_logging(snakemake.log[0])
wildcards, params = snakemake.wildcards, snakemake.params
section = params.section
device = configure_torch(snakemake.threads, params.training["device"])
arrays, _ = load_dataset(snakemake.input.dataset)
splits = {
    split: tuple(
        torch.as_tensor(arrays[f"{kind}_{split}"], dtype=torch.float64, device=device)[..., None]
        for kind in ("x", "y")
    )
    for split in ("train", "validation")
}
seed = int(wildcards.seed)
# every epoch runs: divergence is measured, not retried at a lower rate, and no patience ends a run
protocol = dataclasses.replace(
    TrainingSettings.from_config(params.training), divergence_retries=0, early_stopping_patience=None
)
# Not declared outputs: the rows of the finished runs and the resume file of the one in progress survive a
# killed job, so the rerun continues there; removed once the sweep is written.
resume = Path(snakemake.output.sweep).with_suffix(".resume")
sweep = {"section": section, "training": params.training, "dt": params.dt, "cell": dict(wildcards.items())}
digest = fingerprint(sweep, splits["train"][1])
finished = resume / "rows.pt"
# finished rows are read on any numerical path (each run's own resume file says where it ran)
rows = load_resume(finished, digest, {}, made_by="learning_rate_sweep")[0] or []
for width in section["widths"]:
    eigenvalues = log_uniform_eigenvalues(width, **section["initial_eigenvalues"], seed=seed)
    for learning_rate in section["learning_rates"]:
        if any(row["width"] == width and row["learning_rate"] == learning_rate for row in rows):
            continue
        model = RNN(width, section["activation"], wildcards.parameterization, dt=params.dt, seed=seed)
        model.set_eigenvalues_(eigenvalues).to(device)
        settings = dataclasses.replace(protocol, learning_rate=learning_rate)
        row = sweep_run(
            model,
            splits,
            settings,
            seed,
            section["explosion_factor"],
            section["loss_level"],
            resume / f"width{width}_rate{learning_rate:g}.pt",
        )
        rows.append(
            {
                "target": wildcards.target,
                "activation": section["activation"],
                "parameterization": wildcards.parameterization,
                "width": width,
                "learning_rate": learning_rate,
                "seed": seed,
                **row,
            }
        )
        save_resume(finished, digest, {}, rows)
        log.info("width %d, learning rate %.1e: %s", width, learning_rate, row)
save_csv(snakemake.output.sweep, pd.DataFrame(rows, columns=COLUMNS))
shutil.rmtree(resume, ignore_errors=True)
