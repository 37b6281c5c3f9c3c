"""What jobs ask a scheduler for: the cost bounds lie above what was measured, and every job of the paper
preset's DAG gets its threads, memory, walltime and GPU from its rule, never from a profile's default."""

import re
from dataclasses import dataclass

import pytest

from curse_of_memory.job_resources import (
    FORWARD,
    PERTURBATION_MEMBER_STEPS,
    PERTURBATION_MODEL_SECONDS,
    TRAINING,
    TRAINING_EPOCH_SECONDS,
    TRAINING_SEQUENCE_STEPS,
    listed_jobs,
    listed_resources,
    runtime_minutes,
    training_seconds,
)

from .conftest import snakemake

PAPER_SIZES = {"train": 128_000, "validation": 12_800, "test": 12_800}
#: Rules whose jobs run torch on `training.device`: threads `training.threads`, a GPU under `auto`.
TORCH_RULES = re.compile(r"train_\w+|perturbation_error\w*|fit_classifier|learning_rate_sweep")


#: Targets that only gather files (the Snakefile's localrules): they run no code and ask for nothing.
GATHERING_RULES = {"all", "figures", "summaries", "report_inputs"}


@dataclass
class Job:
    rule: str
    threads: int
    resources: dict


def dry_run_jobs(workdir, *arguments: str) -> list[Job]:
    """Every job of a dry run with the job's rule, threads and resources as Snakemake lists them."""
    run = snakemake(workdir, "-n", "--cores", "16", *arguments)
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = [
        Job(rule, int(fields.get("threads", 1)), listed_resources(fields.get("resources", "")))
        for rule, fields in listed_jobs(run.stdout + run.stderr)
    ]
    assert jobs, run.stdout[-3000:]
    return jobs


def test_the_cost_bounds_lie_on_or_above_every_measured_point():
    for width, seconds in TRAINING_EPOCH_SECONDS.items():
        assert seconds <= TRAINING.seconds(width, TRAINING_SEQUENCE_STEPS) <= 1.5 * seconds + 2
    for width, seconds in PERTURBATION_MODEL_SECONDS.items():
        assert seconds <= FORWARD.seconds(width, PERTURBATION_MEMBER_STEPS) <= 2 * seconds


def test_a_family_s_training_bound_is_every_width_run_to_its_epoch_limit():
    # at the measured sizes one epoch costs (4 + 0.25 m) s: 6 s at m = 8, 20 s at m = 64
    assert training_seconds([8, 64], [10, 1000], PAPER_SIZES, 100) == pytest.approx(10 * 6 + 1000 * 20)
    twice_the_sequences = {**PAPER_SIZES, "train": 2 * 128_000 + 12_800}
    assert training_seconds([8], [10], twice_the_sequences, 100) == pytest.approx(120)
    assert runtime_minutes(20_060) == 3 + 669  # start-up plus twice the estimate, rounded up


@pytest.mark.workflow
def test_every_paper_preset_job_sets_its_resources_in_its_rule(workdir):
    """Through the Slurm profile (which sets no resources of its own), with a GPU partition named."""
    jobs = dry_run_jobs(
        workdir,
        "--profile",
        "workflow/profiles/slurm",
        "--configfile",
        "presets/paper.yaml",
        "--config",
        "cluster={gpu_partition: gpu}",
    )
    listing = "\n".join(f"{job.rule} threads={job.threads} {job.resources}" for job in jobs)
    submitted = [job for job in jobs if job.rule not in GATHERING_RULES]
    assert {job.rule for job in jobs} & GATHERING_RULES == {"all"}
    defaulted = [job.rule for job in submitted if not {"runtime", "mem_mb", "gpu"} <= job.resources.keys()]
    assert not defaulted, listing
    for job in submitted:
        torch_job = bool(TORCH_RULES.fullmatch(job.rule))
        assert int(job.resources["gpu"]) == int(torch_job), job
        assert job.resources.get("slurm_partition") == ("gpu" if torch_job else None), job
        assert job.threads == (4 if torch_job or job.rule.startswith("worst_case_") else 1), job
        assert int(job.resources["mem_mb"]) >= 1000 and int(job.resources["runtime"]) >= 3, job
    # a main-grid family may train every width for the paper's 1000 epochs: at least the measured epochs
    slowest = 1000 * sum(TRAINING_EPOCH_SECONDS.values()) / 60
    assert all(int(job.resources["runtime"]) >= slowest for job in jobs if job.rule == "train_trained")
    counted = {rule: sum(job.rule == rule for job in jobs) for rule in ("train_trained", "worst_case_max")}
    assert counted == {"train_trained": 72, "worst_case_max": 72}, listing
    assert sum(job.rule.startswith("train_") for job in jobs) == 88  # families: 3 seeds each but Figure 3's


@pytest.mark.workflow
def test_a_cpu_run_asks_for_no_gpu_and_no_walltime_past_the_cap(workdir):
    """README's `--config 'training={device: cpu}'` (merged into the preset's training section)."""
    (workdir / "cluster.yaml").write_text("cluster: {gpu_partition: gpu, max_runtime: 600}\n")
    jobs = dry_run_jobs(
        workdir, "--configfile", "presets/paper.yaml", "cluster.yaml", "--config", "training={device: cpu}"
    )
    submitted = [job for job in jobs if job.rule not in GATHERING_RULES]
    assert all(job.resources["gpu"] == "0" and "slurm_partition" not in job.resources for job in submitted)
    assert max(int(job.resources["runtime"]) for job in submitted) == 600
    assert all(int(job.resources["runtime"]) == 600 for job in submitted if job.rule == "train_trained")
