"""Reading and writing pipeline artifacts: atomic writes, and reads that name the file on failure.

Every artifact is written to a temporary name in the same folder and renamed into place, so an
interrupted job never leaves a half-written file that Snakemake would take as done. torch is imported by
the two functions that need it only: the summary, figure and report jobs import this module without it
(importing torch costs a short job more than its work).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


class ArtifactError(RuntimeError):
    """An input artifact is missing, truncated or corrupted."""


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def save_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays to a compressed ``.npz`` atomically."""
    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def save_torch(path: str | Path, payload: Any) -> None:
    """``torch.save`` atomically, byte-reproducibly (through a handle, so the archive's internal name
    does not depend on the random temporary file name)."""
    import torch

    with atomic_path(path) as temporary, open(temporary, "wb") as handle:
        torch.save(payload, handle)


def save_json(path: str | Path, payload: dict) -> None:
    """Write indented, key-sorted JSON atomically (``NaN``/``inf`` kept as JSON extensions)."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def save_csv(path: str | Path, table: pd.DataFrame) -> None:
    """Write a table as CSV atomically, without the index."""
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False)


def _read(path: str | Path, made_by: str, reader: Callable[[Path], Any]) -> Any:
    """Run ``reader`` on ``path``; turn any failure into an error naming the file and its rule."""
    path = Path(path)
    try:
        return reader(path)
    except Exception as error:  # noqa: BLE001 - any failure to parse means a bad artifact
        raise ArtifactError(
            f"cannot read {path} ({type(error).__name__}: {error}). It is made by the rule "
            f"'{made_by}': delete it and rerun snakemake to rebuild it."
        ) from error


def load_npz(path: str | Path, made_by: str) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` file, fully read (so truncation is detected here)."""

    def reader(file: Path) -> dict[str, np.ndarray]:
        with np.load(file, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}

    return _read(path, made_by, reader)


def load_torch(path: str | Path, made_by: str) -> Any:
    """A ``torch.save`` payload, loaded onto the CPU with ``weights_only``."""
    import torch

    return _read(path, made_by, lambda file: torch.load(file, map_location="cpu", weights_only=True))


def load_json(path: str | Path, made_by: str) -> dict:
    """A JSON artifact."""
    return _read(path, made_by, lambda file: json.loads(file.read_text()))


def load_csv(path: str | Path, made_by: str) -> pd.DataFrame:
    """A CSV artifact."""
    return _read(path, made_by, pd.read_csv)


def save_dataset(path: Path, arrays: dict[str, np.ndarray], metadata: dict) -> None:
    """Write the arrays and the JSON metadata (target definition, seed, sizes) to one ``.npz``."""
    save_npz(path, {**arrays, "metadata": np.array(json.dumps(metadata, sort_keys=True))})


def load_dataset(path: Path, made_by: str = "make_target") -> tuple[dict[str, np.ndarray], dict]:
    """Read a data set written by :func:`save_dataset` (by rule ``made_by``): (arrays, metadata)."""
    arrays = load_npz(path, made_by=made_by)
    metadata = json.loads(str(arrays.pop("metadata")))
    return arrays, metadata
