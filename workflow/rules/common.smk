# Helpers shared by every rule file: config validation, the grid of cells, the paths of artifacts.

import itertools

from snakemake.utils import min_version

from curse_of_memory.config import validate_config

min_version("9.0")

# Fill defaults and fail before any job runs on a wrong key, type or value.
validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))

# One training run: target x activation x parameterisation x width x seed.
CELL = "{target}/{activation}/{parameterization}/width{width}_seed{seed}"
CELL_KEYS = ("target", "activation", "parameterization", "width", "seed")


wildcard_constraints:
    target=r"[A-Za-z0-9_\-]+",
    activation=r"[A-Za-z0-9_]+",
    parameterization=r"[A-Za-z0-9_]+",
    width=r"\d+",
    seed=r"\d+",
    fmt=r"pdf|png|svg",


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
