"""The package files a workflow script runs: its imports of this package, followed transitively.

Snakemake reruns a rule when its script's text changes, not when a module the script imports does, so
every rule lists these files as inputs (``common.smk``'s ``script_code``). Computing them from the import
graph keeps them from drifting: a module imported through another one is a code input too, and so is
the package's ``__init__.py``, which every import of the package runs.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "curse_of_memory"
PACKAGE_DIRECTORY = Path(__file__).resolve().parent


@cache
def imported_modules(path: Path, package: Path = PACKAGE_DIRECTORY) -> frozenset[str]:
    """Names of the modules of ``package`` that the Python file ``path`` imports (any form of import).
    Parsed once per file and process: building the DAG asks for a module once per script importing it."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == PACKAGE and len(parts) > 1 and (package / f"{parts[1]}.py").exists():
                modules.add(parts[1])
    return frozenset(modules)


def code_files(script: str | Path, package: str | Path = PACKAGE_DIRECTORY) -> list[str]:
    """Every file of ``package`` (a copy of this package's directory) that ``script`` runs: its package
    imports and theirs."""
    package = Path(package)
    seen: set[str] = set()
    pending = set(imported_modules(Path(script), package))
    if pending:
        pending.add("__init__")
    while pending:
        module = pending.pop()
        if module not in seen:
            seen.add(module)
            pending |= imported_modules(package / f"{module}.py", package)
    return sorted(str(package / f"{module}.py") for module in seen)
