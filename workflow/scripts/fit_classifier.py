"""Rule fit_classifier: one RNN classifier (parameterization, width, seed) trained on the pixel
sequences; history per epoch, test loss and accuracy of the best-validation checkpoint."""

import math
from pathlib import Path

import pandas as pd
import torch

from curse_of_memory.artifacts import load_dataset, save_csv, save_json, save_torch
from curse_of_memory.classification import (
    ClassificationSettings,
    SequenceClassifier,
    evaluate,
    train_classifier,
)
from curse_of_memory.plugins import load_plugins
from curse_of_memory.runtime import configure_logging, configure_torch

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
load_plugins(snakemake.config["plugins"])  # the config's own registered forms and targets
log = configure_logging(snakemake.log[0])
wildcards, settings = snakemake.wildcards, snakemake.params.settings
device = configure_torch(snakemake.threads, snakemake.params.device)
arrays, metadata = load_dataset(snakemake.input.dataset, made_by="classification_data")
splits = {
    split: (
        torch.as_tensor(arrays[f"x_{split}"], dtype=torch.float64, device=device)[..., None],
        torch.as_tensor(arrays[f"y_{split}"], dtype=torch.int64, device=device),
    )
    for split in ("train", "validation", "test")
}
seed = int(wildcards.seed)
bounds = settings["initial_eigenvalues"]
model = SequenceClassifier(
    int(wildcards.width),
    settings["activation"],
    wildcards.parameterization,
    metadata["classes"],
    seed,
    (bounds["low"], bounds["high"]),
    dt=settings["dt"],
).to(device)
log.info(
    "training %s on %s (%d threads), %s",
    model.rnn.hyperparameters(),
    device,
    torch.get_num_threads(),
    metadata,
)
protocol = ClassificationSettings.from_config(settings)
EPOCH_LINE = (
    "epoch %(epoch)d: train loss %(train_loss).4f, accuracy %(train_accuracy).3f; "
    "validation loss %(validation_loss).4f, accuracy %(validation_accuracy).3f"
)
# Not a declared output: it survives a killed job, so the rerun resumes after the last finished epoch;
# removed once the run's outputs are written, so that a rerun after a code change trains afresh.
resume_path = Path(snakemake.output.checkpoint).with_name("resume.pt")
history, best_state, best_epoch = train_classifier(
    model, splits, protocol, seed, lambda row: log.info(EPOCH_LINE, row), resume_path
)
model.load_state_dict(best_state)
test_loss, test_accuracy = evaluate(model, *splits["test"], protocol.evaluation_batch_size)
log.info("best epoch %d: test loss %.4f, accuracy %.4f", best_epoch, test_loss, test_accuracy)
save_csv(snakemake.output.history, pd.DataFrame(history))
save_json(
    snakemake.output.test,
    {
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "best_epoch": best_epoch,
        "diverged": any(math.isnan(row["train_loss"]) for row in history),
    },
)
save_torch(
    snakemake.output.checkpoint,
    {
        "hyperparameters": model.rnn.hyperparameters(),
        "classes": metadata["classes"],
        "state_dict": best_state,
    },
)
resume_path.unlink(missing_ok=True)
