"""Config validation: JSON schema with defaults, then checks against the Python registries (the design the
config describes is :mod:`curse_of_memory.design`).

Every failure raises :class:`ConfigError` with one message that names the offending key (dotted
path) and, where there is a closed set, the allowed values, before any job runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from curse_of_memory.design import (
    MAIN_STUDY,
    cell_perturbation,
    cell_training,
    deep_copy,
    deep_merge,
    merged,
    study_cells,
    target_data,
)
from curse_of_memory.models import ACTIVATIONS, PARAMETERIZATIONS
from curse_of_memory.targets import MEMORY_SHAPES, TARGET_KINDS, kind_parameters

#: Target kinds defined by a memory shape (they need ``memory``).
MEMORY_KINDS = ("linear", "nonlinear")

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and the allowed values."""


def _with_defaults(validator_class: type) -> type:
    """A validator class that fills in each property's ``default`` before validating it."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):  # noqa: ANN001 - jsonschema API
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = deep_copy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _key(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _message(error: jsonschema.ValidationError, prefix: Iterable[Any] = ()) -> str:
    """One line naming the key (below the dotted ``prefix``) and what is allowed there."""
    where = _key([*prefix, *error.absolute_path])
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        return f"{where}: unknown key(s) {unknown}; allowed keys: {allowed}"
    if error.validator == "enum":
        return f"{where}: {error.instance!r} is not allowed; allowed values: {error.validator_value}"
    return f"{where}: {error.message}"


def _check_names(where: str, values: Iterable[str], allowed: Iterable[str]) -> None:
    allowed = sorted(allowed)
    for value in values:
        if value not in allowed:
            raise ConfigError(f"invalid config: {where}: {value!r} is not allowed; allowed values: {allowed}")


def validate_config(config: dict, schema_path: Path = SCHEMA_PATH) -> dict:
    """Fill defaults into ``config`` in place, validate it, and return it."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    # a layered config file leaves a study out by setting it to null (merging cannot delete a key)
    studies = config.get("studies") or {}
    config["studies"] = {name: grid for name, grid in studies.items() if grid is not None}
    validator_class = _with_defaults(jsonschema.Draft7Validator)
    errors = sorted(validator_class(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("invalid config: " + "; ".join(_message(error) for error in errors[:3]))

    for name, target in config["targets"].items():
        _check_target(name, target, schema)
    grid = config["grid"]
    _check_grid("grid", grid, config)
    owner = {target: MAIN_STUDY for target in grid["targets"]}
    for study, settings in config["studies"].items():
        _check_grid(f"studies.{study}", settings, config)
        for target in settings["targets"]:
            if target in owner:
                raise ConfigError(
                    f"invalid config: studies.{study}.targets: {target!r} already belongs to study "
                    f"{owner[target]!r}; a target belongs to one study"
                )
            owner[target] = study
        for section in ("training", "perturbation"):
            _check_section(["studies", study, section], config[section], settings[section], schema, section)
    for target in config["lstsq"]["targets"]:
        _check_names("lstsq.targets", [target], config["targets"])
        if config["targets"][target]["kind"] != "linear":
            raise ConfigError(f"invalid config: lstsq.targets: {target!r} is not of kind 'linear'")

    _check_classification(config["classification"])
    _check_worst_case(config["worst_case"], config["perturbation"])
    _check_learning_rate_stability(config, schema)

    for index, override in enumerate(config["overrides"]):
        _check_section(
            ["overrides", index, "training"], config["training"], override["training"], schema, "training"
        )

    for cell in study_cells(config):
        sizes = target_data(config, cell["target"])["sizes"]
        batch_size = cell_training(config, cell)["batch_size"]
        evaluation_size = cell_perturbation(config, cell)["evaluation_size"]
        if batch_size > sizes["train"]:
            raise ConfigError(
                f"invalid config: training.batch_size: {batch_size} exceeds data.sizes.train of target "
                f"{cell['target']!r} ({sizes['train']}); allowed values: 1..{sizes['train']}"
            )
        if evaluation_size > sizes["test"]:
            raise ConfigError(
                f"invalid config: perturbation.evaluation_size: {evaluation_size} exceeds data.sizes.test of "
                f"target {cell['target']!r} ({sizes['test']}); allowed values: 1..{sizes['test']}"
            )
    figures = config["figures"]
    for figure in ("fig7", "fig8"):
        _check_names(f"figures.{figure}.target", [figures[figure]["target"]], grid["targets"])
    _check_names("figures.fig7.activation", [figures["fig7"]["activation"]], grid["activations"])
    _check_names(
        "figures.fig7.parameterizations",
        figures["fig7"]["parameterizations"],
        grid["parameterizations"],
    )
    _check_names("figures.fig8.activations", figures["fig8"]["activations"], grid["activations"])
    _check_names(
        "figures.fig8.parameterizations",
        figures["fig8"]["parameterizations"],
        grid["parameterizations"],
    )
    return config


def _check_shared_initial_model(where: str, section: dict) -> None:
    """A study whose parameterisations start from one model (classification, the learning-rate sweep): a
    registered activation and forms, a baseline among them, forms that can share a recurrent matrix (all
    rotated or all diagonal), an ordered eigenvalue range."""
    _check_names(f"{where}.activation", [section["activation"]], ACTIVATIONS)
    _check_names(f"{where}.parameterizations", section["parameterizations"], PARAMETERIZATIONS)
    _check_names(f"{where}.baseline", [section["baseline"]], section["parameterizations"])
    if len({PARAMETERIZATIONS[name].rotated for name in section["parameterizations"]}) > 1:
        raise ConfigError(
            f"invalid config: {where}.parameterizations: mixes rotated and diagonal forms, which cannot "
            "start from the same recurrent matrix"
        )
    if section["initial_eigenvalues"]["low"] > section["initial_eigenvalues"]["high"]:
        raise ConfigError(f"invalid config: {where}.initial_eigenvalues: low exceeds high")


def _check_classification(section: dict) -> None:
    """The classification study: registered names, a baseline among its parameterisations, an ordered
    eigenvalue range, a claim epoch within the epochs."""
    _check_shared_initial_model("classification", section)
    if (section["claim_epoch"] or 0) > section["epochs"]:
        raise ConfigError(
            f"invalid config: classification.claim_epoch: {section['claim_epoch']} exceeds epochs "
            f"({section['epochs']}); allowed values: 1..{section['epochs']}"
        )


def _check_worst_case(section: dict, perturbation: dict) -> None:
    """The worst-case study: no more starts than the main grid's random draws, an ascent subset within its
    evaluation set."""
    if section["starts"] > perturbation["draws"]:
        raise ConfigError(
            f"invalid config: worst_case.starts: {section['starts']} exceeds perturbation.draws "
            f"({perturbation['draws']}); allowed values: 1..{perturbation['draws']}"
        )
    if (section["ascent_size"] or 0) > perturbation["evaluation_size"]:
        raise ConfigError(
            f"invalid config: worst_case.ascent_size: {section['ascent_size']} exceeds "
            f"perturbation.evaluation_size ({perturbation['evaluation_size']}); allowed values: "
            f"1..{perturbation['evaluation_size']} or null"
        )


def _check_learning_rate_stability(config: dict, schema: dict) -> None:
    """The learning-rate sweep (its targets, when unset, the main grid's): known targets, registered
    names, forms that can share one initial ``Ŵ``, a baseline among them, an ordered eigenvalue range, a
    valid training override."""
    section = config["learning_rate_stability"]
    if section["targets"] is None:
        section["targets"] = list(config["grid"]["targets"])
    _check_names("learning_rate_stability.targets", section["targets"], config["targets"])
    _check_shared_initial_model("learning_rate_stability", section)
    where = ["learning_rate_stability", "training"]
    _check_section(where, config["training"], section["training"], schema, "training")


def _check_target(name: str, target: dict, schema: dict) -> None:
    """A target entry: a registered kind, its memory shape where it needs one, known parameter names."""
    where = f"targets.{name}"
    _check_names(f"{where}.kind", [target["kind"]], TARGET_KINDS)
    if target["kind"] in MEMORY_KINDS:
        if "memory" not in target:
            raise ConfigError(f"invalid config: {where}.memory: required for kind {target['kind']!r}")
        _check_names(f"{where}.memory", [target["memory"]], MEMORY_SHAPES)
    _check_names(f"{where}.parameters", target["parameters"], kind_parameters(target))
    _check_section(["targets", name, "data"], {}, target["data"], schema, "data")


def _check_grid(where: str, grid: dict, config: dict) -> None:
    _check_names(f"{where}.targets", grid["targets"], config["targets"])
    _check_names(f"{where}.activations", grid["activations"], ACTIVATIONS)
    _check_names(f"{where}.parameterizations", grid["parameterizations"], PARAMETERIZATIONS)


def _check_section(where: list, base: dict, update: dict, schema: dict, section: str) -> None:
    """``update`` deep-merged over ``base`` must satisfy the schema of the top-level ``section``."""
    combined = merged(base, update)
    validator = jsonschema.Draft7Validator(
        {**schema["properties"][section], "definitions": schema["definitions"]}
    )
    for error in validator.iter_errors(combined):
        raise ConfigError("invalid config: " + _message(error, where))


def load_config(*paths: Path) -> dict:
    """Read YAML files (later ones deep-merged over earlier ones, as Snakemake does) and validate."""
    config: dict = {}
    for path in paths:
        deep_merge(config, yaml.safe_load(Path(path).read_text()) or {})
    return validate_config(config)
