"""Reliability of real Snakemake runs: a SIGKILLed training, classifier or learning-rate sweep resumes bit for
bit; reruns are byte-identical."""

import filecmp
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import copy_workflow, snakemake, snakemake_command, workflow_environment

pytestmark = [pytest.mark.workflow, pytest.mark.reliability]

CELL = "results/models/pol/tanh/softplus/width8_seed0"


@dataclass(frozen=True)
class LongJob:
    """A job made long enough to be killed mid-run: its outputs, the resume file that must exist when it
    is killed (written after a few epochs) and its log."""

    config: str
    outputs: list[str]
    resume: str
    log: str


LONG_JOBS = {
    "train": LongJob(
        """
data: {sizes: {train: 1024, validation: 64, test: 64}}
grid: {widths: [8]}
training:
  max_epochs: 40
  early_stopping_patience: null
  chained_early_stopping: {enabled: false}
  checkpoint_every: 3
  batch_size: 32
""",
        [f"{CELL}/{name}" for name in ("model.pt", "history.csv", "metrics.json")],
        f"{CELL}/resume.pt",
        "results/logs/train/pol/tanh/softplus/seed0.log",
    ),
    "fit_classifier": LongJob(
        "classification: {sizes: {train: 1000, validation: 100, test: 100}, seeds: [0], epochs: 60}\n",
        [
            f"results/classification/softplus/width8_seed0/{name}"
            for name in ("model.pt", "history.csv", "test.json")
        ],
        "results/classification/softplus/width8_seed0/resume.pt",
        "results/logs/classification/softplus/width8_seed0.log",
    ),
    # killed in the second learning rate's run, after its third epoch: the first run's row is kept
    "learning_rate_sweep": LongJob(
        """
data: {sizes: {train: 1024, validation: 64, test: 64}}
learning_rate_stability: {learning_rates: [0.01, 0.02], training: {max_epochs: 60, checkpoint_every: 3}}
""",
        ["results/learning_rate/pol/softplus/seed0.csv"],
        "results/learning_rate/pol/softplus/seed0.resume/width4_rate0.02.pt",
        "results/logs/learning_rate/pol/softplus/seed0.log",
    ),
}


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


@pytest.mark.parametrize("rule", sorted(LONG_JOBS))
def test_a_killed_job_resumes_and_ends_bit_for_bit_like_an_uninterrupted_one(tmp_path, rule):
    """A SIGKILL (a walltime kill, a lost node) of a training, a classifier or a learning-rate sweep: the
    rerun resumes from the last checkpoint, removes it when done and writes what an uninterrupted run does."""
    job_spec = LONG_JOBS[rule]
    arguments = [*job_spec.outputs, "--cores", "1", "--configfile", "tests/config.tiny.yaml", "long.yaml"]
    killed, uninterrupted = (copy_workflow(tmp_path / name) for name in ("killed", "uninterrupted"))
    for workdir in (killed, uninterrupted):
        (workdir / "long.yaml").write_text(job_spec.config)
    # the job's inputs first, so that the kill lands in the job itself
    inputs = snakemake(killed, *arguments, "--until", "make_target", "classification_data")
    assert inputs.returncode == 0, inputs.stderr[-3000:]

    job = subprocess.Popen(
        snakemake_command(*arguments),
        cwd=killed,
        env=workflow_environment(killed),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    resume, log = killed / job_spec.resume, killed / job_spec.log
    deadline = time.monotonic() + 300
    while not resume.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    if rule == "train":  # two epochs past the checkpoint: they are lost with the kill and trained again
        while log.read_text().count(" epoch ") < 5 and job.poll() is None:
            time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    finished = [path for path in job_spec.outputs if (killed / path).exists()]
    assert resume.exists() and not finished, "killed too late to test resuming"

    assert snakemake(killed, *arguments, "--unlock").returncode == 0  # the killed run left its lock
    rerun = snakemake(killed, *arguments, "--rerun-incomplete")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    rerun_log = log.read_text()
    assert "resumed from" in rerun_log, rerun_log[-2000:]
    assert not resume.exists()
    if rule == "learning_rate_sweep":  # the first rate's run is not trained again; the resume folder goes
        assert "learning rate 1.0e-02" not in rerun_log and "learning rate 2.0e-02" in rerun_log
        assert not resume.parent.exists()
    reference = snakemake(uninterrupted, *arguments)
    assert reference.returncode == 0, reference.stderr[-3000:]
    for path in job_spec.outputs:
        assert filecmp.cmp(killed / path, uninterrupted / path, shallow=False), path


def test_a_rerun_from_scratch_on_other_cores_is_byte_identical(tmp_path, tiny_run):
    """The tiny configuration from scratch with ``--cores 1`` against the shared ``--cores 2`` run: every
    result file equal (another process order, other jobs beside each one, another run)."""
    one_core = copy_workflow(tmp_path / "one_core")
    result = snakemake(one_core, "--cores", "1", "--configfile", "tests/config.tiny.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_identical_results(tiny_run, one_core)
