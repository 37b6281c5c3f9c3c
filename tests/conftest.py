"""Shared test helpers: the repository root, scratch copies of the workflow, running Snakemake."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _single_thread_torch():
    """Keep unit tests single-threaded and deterministic."""
    torch.set_num_threads(1)
    yield


WORKFLOW_FILES = [
    "Snakefile",
    "config.yaml",
    "workflow",
    "presets",
    "envs",
    "src",
    "tests/config.tiny.yaml",
]


def copy_workflow(destination: Path) -> Path:
    """Copy what Snakemake needs into ``destination``, so runs never touch the checkout's results/."""
    for name in WORKFLOW_FILES:
        source, target = REPO / name, destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    return destination


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A scratch copy of the workflow."""
    return copy_workflow(tmp_path)


def snakemake_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", *arguments]


def workflow_environment(workdir: Path) -> dict[str, str]:
    """The environment of a Snakemake run in ``workdir``: its jobs import the copy's package, not the
    checkout's (which the editable install points at), so a run sees exactly the code it was copied with."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(workdir / "src"), os.environ.get("PYTHONPATH")])),
    }


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One complete run of the tiny configuration with ``--cores 2``, made once per test session and
    shared: a test reads it and dry-runs changes to it, and undoes every change it makes (a copy elsewhere
    would not do: the rules' code inputs are absolute paths)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny_run"))
    result = snakemake(workdir, "--cores", "2", "--configfile", "tests/config.tiny.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def snakemake(workdir: Path, *arguments: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir`` and capture its output."""
    return subprocess.run(
        snakemake_command(*arguments),
        cwd=workdir,
        env=workflow_environment(workdir),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
