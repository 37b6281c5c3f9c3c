"""The Slurm profile against a real Slurm cluster (.ci/start-slurm.sh starts a single-node one)."""

import filecmp
import os
import re
import shutil
import subprocess

import pytest

from .conftest import REPO, copy_workflow, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]


def slurm_is_up() -> bool:
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return False
    try:
        states = subprocess.run(
            ["sinfo", "--noheader", "--format=%t"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return states.returncode == 0 and "idle" in states.stdout.split()


@pytest.fixture
def slurm_cluster():
    """The running cluster; shut down afterwards when CURSE_OF_MEMORY_STOP_SLURM=1 (as .ci/run sets)."""
    yield
    if os.environ.get("CURSE_OF_MEMORY_STOP_SLURM") == "1":
        subprocess.run(["bash", str(REPO / ".ci" / "stop-slurm.sh")], check=False, timeout=60)


# The paper preset's shape at tiny sizes: its settings (CUDA where present, so torch jobs ask for a GPU),
# the tiny grid, one thread per job (the node has two CPUs) and the GPU jobs sent to the gpu partition.
PAPER_SLICE = "training: {threads: 1}\nworst_case: {starts: 2}\ncluster: {gpu_partition: gpu}\n"
FAMILY = [f"pol/tanh/softplus/width{width}_seed0" for width in (4, 8)]
# one job (or group) of every heavy kind of the paper preset's DAG, and the rule of each
SLICE = {
    **{
        f"results/{kind}/{cell}.csv": rule
        for kind, rule in (("perturbation", "perturbation_errors"), ("memory/models", "memory_functions"))
        for cell in FAMILY
    },
    **{f"results/models/{cell}/metrics.json": "train_trained" for cell in FAMILY},
    **{f"results/worst_case/max/{cell}.csv": "worst_case_max" for cell in FAMILY},
    "results/classification/softplus/width8_seed0/test.json": "fit_classifier",
    "results/learning_rate/pol/softplus/seed0.csv": "learning_rate_sweep",
}
GPU_JOBS = {"perturbation_errors", "train_trained", "fit_classifier", "learning_rate_sweep"}


def slurm_job(job_id: str) -> dict:
    """A finished job's fields as `scontrol show job` lists them (MinJobAge keeps them an hour)."""
    shown = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True)
    return dict(field.split("=", 1) for field in shown.stdout.split() if "=" in field)


@pytest.mark.skipif(
    not slurm_is_up(), reason="no running Slurm cluster (start one with .ci/start-slurm.sh as root)"
)
def test_a_slice_of_the_paper_preset_on_slurm_equals_the_local_run(tmp_path, slurm_cluster):
    """A main-grid family (training, perturbation errors, memory functions, worst case), a classifier and a
    learning-rate sweep under the paper preset's settings run as Slurm jobs with the resources their rules
    set: the torch jobs on the gpu partition with one GPU each, the rest on the default partition; their
    artifacts equal a local run's byte for byte."""
    cluster, local = (copy_workflow(tmp_path / name) for name in ("cluster", "local"))
    for workdir in (cluster, local):
        (workdir / "slice.yaml").write_text(PAPER_SLICE)
    configs = ["--configfile", "presets/paper.yaml", "tests/config.tiny.yaml", "slice.yaml"]
    on_slurm = snakemake(
        cluster,
        "--profile",
        "workflow/profiles/slurm",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        *SLICE,
        *configs,  # targets first: --configfile takes a list
        timeout=1500,
    )
    assert on_slurm.returncode == 0, on_slurm.stderr[-4000:]
    submitted = re.findall(
        r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/(rule|group)_(\w+?)/", on_slurm.stderr
    )
    jobs = {}
    for job_id, kind, name in submitted:  # a group's folder is the group's name, then its rules'
        rule = (
            next(group for group in ("perturbation_errors", "memory_functions") if name.startswith(group))
            if kind == "group"
            else name
        )
        jobs.setdefault(rule, []).append(slurm_job(job_id))
    assert set(SLICE.values()) <= set(jobs), on_slurm.stderr[-4000:]
    assert len(jobs["train_trained"]) == 1  # the family's widths train in one job
    for rule, shown in jobs.items():
        for job in shown:
            assert job["JobState"] == "COMPLETED", (rule, job)
            on_gpu = rule in GPU_JOBS
            assert job["Partition"] == ("gpu" if on_gpu else "debug"), (rule, job)
            assert (job.get("TresPerJob") == "gres:gpu:1") == on_gpu, (rule, job)

    assert snakemake(local, "--cores", "2", *SLICE, *configs).returncode == 0
    for path in SLICE:
        assert filecmp.cmp(cluster / path, local / path, shallow=False), path
