"""Config validation: JSON schema with defaults, then checks against the Python registries.

Every failure raises :class:`ConfigError` with one message that names the offending key (dotted
path) and, where there is a closed set, the allowed values, before any job runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from curse_of_memory.models import ACTIVATIONS, PARAMETERIZATIONS
from curse_of_memory.targets import MEMORY_SHAPES, shape_parameters

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
                    instance[name] = _copy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _copy(value: Any) -> Any:
    """A deep copy of plain YAML data (so defaults are never shared between configs)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _key(path: Iterable[Any]) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def _message(error: jsonschema.ValidationError) -> str:
    """One line naming the key and what is allowed there."""
    where = _key(error.absolute_path)
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
    validator_class = _with_defaults(jsonschema.Draft7Validator)
    errors = sorted(validator_class(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("invalid config: " + "; ".join(_message(error) for error in errors[:3]))

    for name, target in config["targets"].items():
        _check_names(f"targets.{name}.memory", [target["memory"]], MEMORY_SHAPES)
        _check_names(f"targets.{name}.parameters", target["parameters"], shape_parameters(target["memory"]))
    grid = config["grid"]
    _check_names("grid.targets", grid["targets"], config["targets"])
    _check_names("grid.activations", grid["activations"], ACTIVATIONS)
    _check_names("grid.parameterizations", grid["parameterizations"], PARAMETERIZATIONS)

    training_schema = schema["properties"]["training"]
    for index, override in enumerate(config["overrides"]):
        merged = _merged(config["training"], override["training"])
        for error in jsonschema.Draft7Validator(training_schema).iter_errors(merged):
            error.path.extendleft(reversed(["overrides", index, "training"]))
            raise ConfigError("invalid config: " + _message(error))

    sizes = config["data"]["sizes"]
    if config["training"]["batch_size"] > sizes["train"]:
        raise ConfigError(
            f"invalid config: training.batch_size: {config['training']['batch_size']} exceeds "
            f"data.sizes.train ({sizes['train']}); allowed values: 1..{sizes['train']}"
        )
    if config["perturbation"]["evaluation_size"] > sizes["test"]:
        raise ConfigError(
            f"invalid config: perturbation.evaluation_size: {config['perturbation']['evaluation_size']}"
            f" exceeds data.sizes.test ({sizes['test']}); allowed values: 1..{sizes['test']}"
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
        "figures.fig8.parameterization",
        [figures["fig8"]["parameterization"]],
        grid["parameterizations"],
    )
    return config


def cell_training(config: dict, cell: dict) -> dict:
    """The training settings of one grid cell: ``training`` with every matching override merged in."""
    settings = config["training"]
    for override in config["overrides"]:
        if all(cell[key] == value for key, value in override["match"].items()):
            settings = _merged(settings, override["training"])
    return settings


def _merged(base: dict, update: dict) -> dict:
    """A deep-merged copy of ``base`` updated by ``update``."""
    merged = _copy(base)
    _merge(merged, _copy(update))
    return merged


def load_config(*paths: Path) -> dict:
    """Read YAML files (later ones deep-merged over earlier ones, as Snakemake does) and validate."""
    config: dict = {}
    for path in paths:
        _merge(config, yaml.safe_load(Path(path).read_text()) or {})
    return validate_config(config)


def _merge(base: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
