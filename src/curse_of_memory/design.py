"""The experiment's design read off a validated config: the trained studies, their cells, and each cell's
settings (study sections and overrides merged in). Plain Python: the workflow, the summaries and the
figures use it without importing torch.
"""

from __future__ import annotations

import itertools
from typing import Any

#: A trained model's keys: its cell (the workflow's wildcards) and the study whose grid it belongs to.
CELL_KEYS = ("target", "activation", "parameterization", "width", "seed")
MODEL_KEYS = ["study", *CELL_KEYS]
#: A family: every width of one (study, target, activation, parameterisation, seed).
FAMILY_KEYS = [key for key in MODEL_KEYS if key != "width"]

#: The study name of the main ``grid`` (the ``study`` column of its rows).
MAIN_STUDY = "trained"


def study_grids(config: dict) -> dict[str, dict]:
    """Every trained study's grid: the main ``grid`` (study ``trained``) and each of ``studies``."""
    return {MAIN_STUDY: config["grid"], **config["studies"]}


def study_cells(config: dict, study: str | None = None) -> list[dict]:
    """The cells (dicts of CELL_KEYS plus ``study``) of one trained study, or of all of them."""
    grids = study_grids(config)
    chosen = grids if study is None else {study: grids[study]}
    return [
        {"study": name, **dict(zip(CELL_KEYS, values, strict=True))}
        for name, grid in chosen.items()
        for values in itertools.product(
            grid["targets"], grid["activations"], grid["parameterizations"], grid["widths"], grid["seeds"]
        )
    ]


def target_study(config: dict, target: str) -> str:
    """The trained study whose grid lists ``target`` (each target belongs to at most one)."""
    for name, grid in study_grids(config).items():
        if target in grid["targets"]:
            return name
    raise KeyError(f"target {target!r} is in no trained study")


def target_data(config: dict, target: str) -> dict:
    """The data settings of one target: ``data`` with the target's own ``data`` merged in."""
    return merged(config["data"], config["targets"][target]["data"])


def cell_training(config: dict, cell: dict) -> dict:
    """The training settings of one cell: ``training``, its study's ``training``, then every matching
    override, deep-merged in that order."""
    settings = config["training"]
    study = target_study(config, cell["target"])
    if study != MAIN_STUDY:
        settings = merged(settings, config["studies"][study]["training"])
    for override in config["overrides"]:
        if all(cell[key] == value for key, value in override["match"].items()):
            settings = merged(settings, override["training"])
    return settings


def cell_perturbation(config: dict, cell: dict, norm: str | None = None) -> dict:
    """The perturbation settings of one cell: ``perturbation`` with its study's merged in, and ``norm`` in
    place of the configured one when given."""
    study = target_study(config, cell["target"])
    settings = config["perturbation"]
    if study != MAIN_STUDY:
        settings = merged(settings, config["studies"][study]["perturbation"])
    return settings if norm is None else {**settings, "norm": norm}


def merged(base: dict, update: dict) -> dict:
    """A deep-merged copy of ``base`` updated by ``update``."""
    result = deep_copy(base)
    deep_merge(result, deep_copy(update))
    return result


def deep_copy(value: Any) -> Any:
    """A deep copy of plain YAML data (so defaults are never shared between configs)."""
    if isinstance(value, dict):
        return {key: deep_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [deep_copy(item) for item in value]
    return value


def deep_merge(base: dict, update: dict) -> None:
    """``update`` merged into ``base`` in place, dict by dict (as Snakemake merges config files)."""
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = value
