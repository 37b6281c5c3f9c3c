"""The Snakemake workflow itself: dry runs of both presets, lint, a bad config, a tiny real run."""

import pandas as pd
import pytest

from .conftest import snakemake

pytestmark = pytest.mark.workflow

# The model columns of the public tables, spelled out (README "Outputs"): a rename must fail here.
MODEL_COLUMNS = ["study", "target", "activation", "parameterization", "width", "seed"]


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    lines = output[output.index("Job stats:") :].splitlines()[3:]
    counts = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_dry_run_of_the_quick_preset(workdir):
    result = snakemake(workdir, "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert counts["train"] == 2 * 4 * 3 * 4
    assert counts["perturbation_error"] == counts["model_memory"] == counts["train"]
    for rule in ["fig7", "fig8", "perturbation_grid", "memory_figure", "stability_figure"]:
        assert rule in counts, rule


def test_dry_run_of_the_paper_preset_has_every_authors_cell(workdir):
    result = snakemake(workdir, "-n", "--cores", "2", "--configfile", "presets/paper.yaml")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert counts["train"] == 72 + 24  # the authors' sweep plus Figure 7's relu cells


def test_paper_preset_on_the_slurm_profile_lists_every_job_with_its_resources(workdir):
    result = snakemake(
        workdir, "-n", "--profile", "workflow/profiles/slurm", "--configfile", "presets/paper.yaml"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert job_counts(output)["train"] == 96
    train_jobs = output.split("rule train:")[1:]
    assert len(train_jobs) == 96
    for job in train_jobs:
        resources = job[job.index("resources:") :].splitlines()[0]
        assert "runtime=1440" in resources and "mem_mb=8000" in resources, resources


def test_chained_early_stopping_makes_each_width_wait_for_the_next_smaller(workdir):
    (workdir / "chained.yaml").write_text("training: {chained_early_stopping: {enabled: true}}\n")
    result = snakemake(
        workdir, "-n", "--cores", "1", "--configfile", "tests/config.tiny.yaml", "chained.yaml"
    )
    assert result.returncode == 0, result.stderr
    wide = result.stdout.split("output: results/models/pol/tanh/softplus/width8_seed0/model.pt")[0]
    assert "results/models/pol/tanh/softplus/width4_seed0/metrics.json" in wide.split("rule train:")[-1]


def test_one_figure_target_builds_only_its_inputs(workdir):
    result = snakemake(workdir, "-n", "--cores", "1", "fig7")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    assert counts == {"make_target": 1, "train": 8, "perturbation_error": 8, "fig7": 1, "total": 18}


def test_lint_is_clean(workdir):
    result = snakemake(workdir, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def test_invalid_config_fails_before_any_job(workdir):
    (workdir / "bad.yaml").write_text("training:\n  optimizer: sgd\n")
    result = snakemake(workdir, "-n", "--cores", "1", "--configfile", "bad.yaml")
    assert result.returncode != 0
    assert (
        "training.optimizer: 'sgd' is not allowed; allowed values: ['adamw', 'adam']"
        in result.stdout + result.stderr
    )
    assert not (workdir / "results").exists()


def test_tiny_end_to_end_run(workdir):
    result = snakemake(workdir, "--cores", "2", "--configfile", "tests/config.tiny.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    results = workdir / "results"
    perturbation = pd.read_csv(results / "summary" / "perturbation.csv")
    assert list(perturbation.columns) == [*MODEL_COLUMNS, "beta", "draw", "error"]
    assert len(perturbation) == 2 * (1 + 5 * 2)  # 2 models x (beta 0 once + 5 betas x 2 draws)
    assert set(perturbation["study"]) == {"trained"}
    stability = pd.read_csv(results / "summary" / "stability.csv")
    assert list(stability.columns[:10]) == [
        *MODEL_COLUMNS,
        "error_at_zero",
        "null_error",
        "stability_radius",
        "radius_censored",
    ]
    assert "stability_margin" in stability.columns and len(stability) == 2
    assert (stability["error_at_zero"] < stability["null_error"]).all()
    memory = pd.read_csv(results / "summary" / "memory.csv")
    assert list(memory.columns) == ["subject", "kind", "input", "t", "memory", *MODEL_COLUMNS]
    assert set(memory["kind"]) == {"target", "model"} and set(memory["input"]) == {
        "heaviside",
        "impulse",
    }
    target_memory = memory[(memory["kind"] == "target") & (memory["input"] == "impulse")]
    expected = (1 + 0.1 * target_memory["t"]) ** -1.1
    assert (target_memory["memory"] - expected).abs().max() < 1e-10
    for figure in ["fig7", "fig8", "perturbation_pol", "memory_trained", "stability_vs_width"]:
        assert (results / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    log = (results / "logs" / "train" / "pol" / "tanh" / "softplus" / "width8_seed0.log").read_text()
    assert log.count(" epoch ") == 3
    rerun = snakemake(workdir, "-n", "--cores", "1", "--configfile", "tests/config.tiny.yaml")
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    check_partial_reruns(workdir)


FIGURE_RULES = {"fig7", "fig8", "perturbation_grid", "memory_figure", "stability_figure"}


def planned_jobs(workdir, *configfiles) -> dict[str, int]:
    result = snakemake(workdir, "-n", "--cores", "1", "--configfile", "tests/config.tiny.yaml", *configfiles)
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    return {rule: count for rule, count in counts.items() if rule not in {"all", "total"}}


def edit(path):
    """Change a file's content (a newer mtime alone is not a change to Snakemake)."""
    with open(path, "a") as handle:
        handle.write("\n# edited by a test\n")


def check_partial_reruns(workdir):
    """After a complete run, each kind of change reruns exactly what depends on it."""
    edit(workdir / "workflow/resources/style.mplstyle")
    assert set(planned_jobs(workdir)) == FIGURE_RULES

    edit(workdir / "src/curse_of_memory/perturbation.py")
    assert planned_jobs(workdir)["perturbation_error"] == 2
    assert "train" not in planned_jobs(workdir)

    (workdir / "one_cell.yaml").write_text(
        "overrides:\n  - match: {width: 8}\n    training: {learning_rate: 0.003}\n"
    )
    changed = planned_jobs(workdir, "one_cell.yaml")
    assert changed["train"] == 1 and changed["perturbation_error"] == 2 and changed["model_memory"] == 1
    assert "make_target" not in changed and "target_memory" not in changed
