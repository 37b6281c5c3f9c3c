"""Artifacts: atomic writes, and corrupted inputs that fail with the file and the rule named."""

import os

import numpy as np
import pandas as pd
import pytest
import torch

from curse_of_memory.artifacts import (
    ArtifactError,
    atomic_path,
    load_csv,
    load_npz,
    load_torch,
    save_csv,
    save_npz,
    save_torch,
)

pytestmark = pytest.mark.reliability


def test_interrupted_write_leaves_neither_the_file_nor_a_temporary(tmp_path):
    target = tmp_path / "table.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("half a ta")
        raise RuntimeError("killed mid-write")
    assert os.listdir(tmp_path) == []


def test_an_existing_file_is_replaced_only_when_the_new_one_is_complete(tmp_path):
    target = tmp_path / "table.csv"
    save_csv(target, pd.DataFrame({"a": [1]}))
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_text("partial")
        raise RuntimeError
    assert load_csv(target, made_by="x")["a"].tolist() == [1]
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)


@pytest.mark.parametrize(
    ("suffix", "save", "load"),
    [
        (".npz", lambda p: save_npz(p, {"x": np.arange(10_000.0)}), load_npz),
        (".pt", lambda p: save_torch(p, {"w": torch.arange(10_000.0)}), load_torch),
    ],
)
def test_truncated_artifacts_fail_naming_the_file_and_the_rule(tmp_path, suffix, save, load):
    path = tmp_path / f"artifact{suffix}"
    save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArtifactError, match=rf"cannot read .*artifact\{suffix}.*made by the rule 'make_it'"):
        load(path, made_by="make_it")
    path.write_bytes(b"not an archive at all")
    with pytest.raises(ArtifactError, match="rerun snakemake to rebuild it"):
        load(path, made_by="make_it")
