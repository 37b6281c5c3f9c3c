"""A study's own parameterisations, activations, memory shapes and model families, registered by modules
the config names (``plugins:``), so that extending the study needs no edit of the package.

A plugin is a Python file (a path relative to the working directory) or an importable module that calls
the registries on import: ``models.register_parameterization``, ``models.ACTIVATIONS``,
``targets.register_memory_shape``, ``random_models.FAMILIES``. The workflow imports every plugin before it
checks the config (so the config may name what they register) and every script that reads a registry
imports them again; their files are code inputs of those scripts' rules (``common.smk``'s ``script_code``),
so editing a plugin reruns exactly the jobs that may use it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

#: The package modules that hold the registries a plugin extends.
REGISTRY_MODULES = frozenset({"models", "targets", "random_models"})


def plugin_file(entry: str) -> Path:
    """The file of a plugin entry: a path ending in ``.py``, or an importable module's source."""
    if entry.endswith(".py"):
        path = Path(entry)
        if not path.is_file():
            raise FileNotFoundError(
                f"plugin {entry!r}: no such file (paths are relative to the working directory)"
            )
        return path.resolve()
    spec = importlib.util.find_spec(entry)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"plugin {entry!r}: no importable module of that name")
    return Path(spec.origin).resolve()


def load_plugins(entries: list[str]) -> list[Path]:
    """Import every plugin once per process (their registrations run on import); their files, in order."""
    files = []
    for entry in entries:
        path = plugin_file(entry)
        name = f"curse_of_memory_plugin_{path.stem}" if entry.endswith(".py") else entry
        if name not in sys.modules:
            if entry.endswith(".py"):
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[name]  # a plugin that failed to import is not taken as loaded
                    raise
            else:
                importlib.import_module(entry)
        files.append(path)
    return files
