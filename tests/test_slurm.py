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


@pytest.mark.skipif(
    not slurm_is_up(), reason="no running Slurm cluster (start one with .ci/start-slurm.sh as root)"
)
def test_tiny_run_on_slurm_equals_the_local_run(tmp_path, slurm_cluster):
    """The main grid's two tiny cells (one family), trained and evaluated as Slurm jobs, give the same
    artifacts as a local run byte for byte (the other studies use the same rules; left out for time)."""
    cluster, local = (copy_workflow(tmp_path / name) for name in ("cluster", "local"))
    cells = [f"pol/tanh/softplus/width{width}_seed0" for width in (4, 8)]
    artifacts = [f"results/{kind}/{cell}.csv" for kind in ("perturbation", "memory/models") for cell in cells]
    artifacts += [f"results/models/{cell}/metrics.json" for cell in cells]
    tiny = [*artifacts, "--configfile", "tests/config.tiny.yaml"]  # targets first: --configfile takes a list
    on_slurm = snakemake(
        cluster,
        "--profile",
        "workflow/profiles/slurm",
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        *tiny,
        timeout=1200,
    )
    assert on_slurm.returncode == 0, on_slurm.stderr[-4000:]
    submissions = re.findall(
        r"submitted with SLURM jobid (\d+) \(log: \S*/rule_train_trained/(\S+)/\d+\.log\)", on_slurm.stderr
    )
    assert len(submissions) == 1, on_slurm.stderr[-4000:]  # the family of both cells ran as one Slurm job
    for job_id, _ in submissions:
        assert list((cluster / ".snakemake" / "slurm_logs" / "rule_train_trained").rglob(f"{job_id}.log"))
    assert re.search(r"submitted with SLURM jobid \d+ \(log: \S*/group_perturbation_errors", on_slurm.stderr)

    assert snakemake(local, "--cores", "2", *tiny).returncode == 0
    for path in artifacts:
        assert filecmp.cmp(cluster / path, local / path, shallow=False), path
