# Helpers shared by all rule files — config validation, the grid of cells, the paths of artifacts.

import itertools
import os

from snakemake.utils import min_version

from curse_of_memory.config import cell_training, validate_config

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


def cell_paths(pattern, cells=None):
    """``pattern`` (containing CELL's wildcards) filled in for ``cells`` (default: every grid cell)."""
    return [pattern.format(**cell) for cell in (grid_cells() if cells is None else cells)]


def figure_files(name):
    """The files of one figure, one per configured format."""
    return expand("results/figures/{name}.{fmt}", name=name, fmt=config["figures"]["formats"])


def training_settings(wildcards):
    """The training settings of the cell in ``wildcards`` (config ``training`` plus its overrides)."""
    cell = {**dict(wildcards.items()), "width": int(wildcards.width), "seed": int(wildcards.seed)}
    return cell_training(config, cell)


def package_code(*modules):
    """The package's source files that a rule imports. Snakemake does not track imported modules,
    so rules list them as inputs: editing one reruns exactly the rules that use it."""
    return [os.path.join(workflow.basedir, "src", "curse_of_memory", f"{m}.py") for m in modules]


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


def panel_cells(panels):
    """The grid cells (every width and seed) that a list of panels draws."""
    return [
        {**p, "width": width, "seed": seed}
        for p in panels
        for width in config["grid"]["widths"]
        for seed in config["grid"]["seeds"]
    ]


# Figures: the shared style file and the panels of the paper's figures.
FIGURE_STYLE = config["figures"]["style"]
FIG7 = config["figures"]["fig7"]
FIG8 = config["figures"]["fig8"]
FIG7_PANELS = [panel(FIG7["target"], FIG7["activation"], p) for p in FIG7["parameterizations"]]
FIG8_PANELS = [panel(FIG8["target"], a, FIG8["parameterization"]) for a in FIG8["activations"]]


def grid_panels(wildcards):
    """Every (activation, parameterization) panel of one target."""
    return [
        panel(wildcards.target, a, p)
        for a in config["grid"]["activations"]
        for p in config["grid"]["parameterizations"]
    ]
