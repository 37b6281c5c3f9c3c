"""Reliability of real Snakemake runs: a SIGKILLed training resumes bit for bit; reruns are byte-identical."""

import filecmp
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import copy_workflow, snakemake, snakemake_command, workflow_environment

pytestmark = [pytest.mark.workflow, pytest.mark.reliability]

CELL = "results/models/pol/tanh/softplus/width8_seed0"

# One cell long enough to be killed mid-training, checkpointing every 3 epochs.
LONG_CELL = """
data: {sizes: {train: 1024, validation: 64, test: 64}}
grid: {widths: [8]}
training:
  max_epochs: 40
  early_stopping_patience: null
  chained_early_stopping: {enabled: false}
  checkpoint_every: 3
  batch_size: 32
"""


def artifact_files(root: Path) -> list[Path]:
    """Every result file except logs and benchmarks (which hold times), relative to ``root``."""
    return sorted(
        path.relative_to(root)
        for path in (root / "results").rglob("*")
        if path.is_file() and path.parts[len(root.parts) + 1] not in {"logs", "benchmarks"}
    )


def assert_identical_results(first: Path, second: Path) -> None:
    files = artifact_files(first)
    assert files == artifact_files(second)
    assert len(files) > 10
    different = [str(f) for f in files if not filecmp.cmp(first / f, second / f, shallow=False)]
    assert different == []


def test_a_killed_training_resumes_and_ends_bit_for_bit_like_an_uninterrupted_one(tmp_path):
    arguments = [f"{CELL}/model.pt", "--cores", "1", "--configfile", "tests/config.tiny.yaml", "long.yaml"]
    killed, uninterrupted = (copy_workflow(tmp_path / name) for name in ("killed", "uninterrupted"))
    for workdir in (killed, uninterrupted):
        (workdir / "long.yaml").write_text(LONG_CELL)

    job = subprocess.Popen(
        snakemake_command(*arguments),
        cwd=killed,
        env=workflow_environment(killed),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    resume = killed / CELL / "resume.pt"
    deadline = time.monotonic() + 300
    while not resume.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    log = killed / "results/logs/train/pol/tanh/softplus/seed0.log"
    while log.read_text().count(" epoch ") < 5 and job.poll() is None:
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert resume.exists() and not (killed / CELL / "model.pt").exists(), "killed too late to test resuming"

    assert snakemake(killed, *arguments, "--unlock").returncode == 0  # the killed run left its lock
    rerun = snakemake(killed, *arguments, "--rerun-incomplete")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resumed from" in log.read_text()
    assert not resume.exists()
    reference = snakemake(uninterrupted, *arguments)
    assert reference.returncode == 0, reference.stderr[-3000:]
    for name in ("model.pt", "history.csv", "metrics.json"):
        assert filecmp.cmp(killed / CELL / name, uninterrupted / CELL / name, shallow=False), name


def test_reruns_and_core_counts_give_byte_identical_results(tmp_path):
    runs = {name: copy_workflow(tmp_path / name) for name in ("first", "again", "one_core")}
    for name, workdir in runs.items():
        cores = "1" if name == "one_core" else "2"
        result = snakemake(workdir, "--cores", cores, "--configfile", "tests/config.tiny.yaml")
        assert result.returncode == 0, result.stderr[-3000:]
    assert_identical_results(runs["first"], runs["again"])  # a rerun from scratch
    assert_identical_results(runs["first"], runs["one_core"])  # --cores 2 against --cores 1
