# Helpers shared by all rule files — config validation, the grid of cells, the paths of artifacts.

import itertools

from snakemake.utils import min_version

from curse_of_memory.config import validate_config

min_version("9.0")

# Fill defaults and fail before any job runs on a wrong key, type or value.
validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))

# One training run: target x activation x parameterisation x width x seed.
CELL = "{target}/{activation}/{parameterization}/width{width}_seed{seed}"
CELL_KEYS = ("target", "activation", "parameterization", "width", "seed")


def grid_cells():
    """Every configured cell as a dict of its wildcard values."""
    grid = config["grid"]
    return [
        dict(zip(CELL_KEYS, values))
        for values in itertools.product(
            grid["targets"], grid["activations"], grid["parameterizations"], grid["widths"], grid["seeds"]
        )
    ]


def cell_paths(pattern):
    """``pattern`` (containing CELL's wildcards) filled in for every grid cell."""
    return [pattern.format(**cell) for cell in grid_cells()]


def figure_files(name):
    """The files of one figure, one per configured format."""
    return expand("results/figures/{name}.{fmt}", name=name, fmt=config["figures"]["formats"])


def training_threads():
    return config["training"]["threads"]


def uses_gpu():
    return config["training"]["device"] == "cuda"


def previous_width_metrics(wildcards):
    """With chained early stopping, the metrics of the next-smaller width (its loss sets the stop level)."""
    if not config["training"]["chained_early_stopping"]["enabled"]:
        return []
    smaller = [w for w in sorted(config["grid"]["widths"]) if w < int(wildcards.width)]
    if not smaller:
        return []
    cell = {**dict(wildcards.items()), "width": smaller[-1]}
    return f"results/models/{CELL.format(**cell)}/metrics.json"


def panel(target, activation, parameterization):
    """One perturbation panel: the family of a (target, activation, parameterization)."""
    return {"target": target, "activation": activation, "parameterization": parameterization}
