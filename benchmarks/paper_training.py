"""Epochs per second of one paper-scale training (presets/paper.yaml) on each available device.

Width 64, tanh, softplus, on the ``pol`` target with the authors' data sizes (128,000 / 12,800
sequences of length 100), batch 512, AdamW: the project's ``train`` for a few epochs on CUDA (when
present) and on the CPU, reporting each epoch's time, seconds per epoch and which evaluation path the
model used. On CUDA also the time of one training step on one batch of 512 for four cells, eager (through
the reference loop, and through the model's own forward) and replayed from the captured CUDA graph.

    python benchmarks/paper_training.py --epochs 2 [--devices cuda cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import torch

from curse_of_memory.config import load_config
from curse_of_memory.loss import temporal_weights
from curse_of_memory.models import RNN
from curse_of_memory.targets import build_target, make_dataset
from curse_of_memory.training import TrainingSettings, make_optimizer, numerical_path, train, training_step

ROOT = Path(__file__).resolve().parents[1]
STEP_CELLS = [("tanh", "softplus"), ("tanh", "diagonal"), ("hardtanh", "vanilla"), ("linear", "softplus")]


def cuda_step_times(
    width: int, inputs: torch.Tensor, targets: torch.Tensor, settings: TrainingSettings
) -> None:
    """Milliseconds per training step on one CUDA batch: eager through ``reference_forward``, eager through
    ``model.forward`` (the three-op loop; linear: the convolution), and replayed from the CUDA graph."""
    weights = temporal_weights(inputs.shape[1], settings.loss_weight_power).to(inputs.device)
    for activation, parameterization in STEP_CELLS:
        times = {}
        for path in ("reference loop", "model forward", "CUDA graph"):
            model = RNN(width, activation, parameterization, seed=0).to(inputs.device)
            optimizer = make_optimizer(model, settings)
            forward = {"reference loop": model.reference_forward, "model forward": model}.get(path)
            repeats = []
            for _ in range(6):  # the first (warm-up, capture) is dropped
                torch.cuda.synchronize()
                started = time.perf_counter()
                for _step in range(10):
                    training_step(model, optimizer, inputs, targets, weights, settings, forward)
                torch.cuda.synchronize()
                repeats.append((time.perf_counter() - started) / 10)
            times[path] = statistics.median(repeats[1:]) * 1e3
        print(
            f"step, width {width} {activation} {parameterization}: "
            + ", ".join(f"{path} {milliseconds:.2f} ms" for path, milliseconds in times.items())
            + f" (eager reference / graph: {times['reference loop'] / times['CUDA graph']:.1f}x)",
            flush=True,
        )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--devices", nargs="+", default=["cuda", "cpu"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    arguments = parser.parse_args(argv)
    torch.set_num_threads(arguments.threads)
    logging.basicConfig(level=logging.INFO, format="  %(message)s", stream=sys.stdout)  # train's epoch lines
    config = load_config(ROOT / "config.yaml", ROOT / "presets" / "paper.yaml")
    data = config["data"]
    target = build_target(config["targets"]["pol"], data["dt"])
    started = time.perf_counter()
    arrays = make_dataset(target, data["sizes"], data["sequence_length"], data["input_std"], data["seed"])
    print(f"data {data['sizes']} in {time.perf_counter() - started:.1f} s; torch threads {arguments.threads}")
    section = {**config["training"], "max_epochs": arguments.epochs, "early_stopping_patience": None}
    settings = TrainingSettings.from_config(section)
    for name in arguments.devices:
        if name == "cuda" and not torch.cuda.is_available():
            print("cuda: not available")
            continue
        device = torch.device(name)
        splits = {
            split: tuple(
                torch.as_tensor(arrays[f"{kind}_{split}"], dtype=torch.float64, device=device)[..., None]
                for kind in "xy"
            )
            for split in ("train", "validation")
        }
        model = RNN(arguments.width, "tanh", "softplus", dt=data["dt"], seed=0).to(device)
        path = numerical_path(model, device)["kernel"]
        started = time.perf_counter()
        result = train(model, splits, settings, seed=0)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - started) / arguments.epochs
        cpu = f"cpu ({arguments.threads} threads)"
        label = torch.cuda.get_device_name() if device.type == "cuda" else cpu
        print(
            f"{label} [{path}]: {seconds:.1f} s per epoch ({1 / seconds:.3f} epochs/s), "
            f"validation loss {result.history[-1]['validation_loss']:.4e}",
            flush=True,
        )
        if device.type == "cuda":
            cuda_step_times(arguments.width, *(tensor[:512] for tensor in splits["train"]), settings)


if __name__ == "__main__":
    main(sys.argv[1:])
