"""The Snakemake workflow itself: dry runs of both presets, lint, a bad config, a tiny real run."""

import shutil
import tempfile

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
    # the main grid, Figure 2's widths, Figure 3's 6 teachers x 3 widths, Figure 12's widths
    assert counts["train"] == 2 * 4 * 3 * 4 + 4 + 6 * 3 + 3
    assert counts["perturbation_error"] == counts["model_memory"] == counts["train"]
    assert counts["make_target"] == counts["target_memory"] == 2 + 1 + 6 + 1
    for rule in [
        *FIGURE_RULES,
        "least_squares",
        "teacher_filter",
        "memory_definitions",
        "nondecaying_memory",
    ]:
        assert counts.get(rule) == (2 if rule == "perturbation_grid" else 1), rule


def test_dry_run_of_the_paper_preset_has_every_authors_cell(workdir):
    result = snakemake(workdir, "-n", "--cores", "2", "--configfile", "presets/paper.yaml")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    # the authors' sweep, Figure 7's relu cells, then Figures 2 (5 widths), 3 (10 teachers x 4), 12 (4)
    assert counts["train"] == 72 + 24 + 5 + 10 * 4 + 4


def test_paper_preset_on_the_slurm_profile_lists_every_job_with_its_resources(workdir):
    result = snakemake(
        workdir, "-n", "--profile", "workflow/profiles/slurm", "--configfile", "presets/paper.yaml"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert job_counts(output)["train"] == 145
    train_jobs = output.split("rule train:")[1:]
    assert len(train_jobs) == 145
    for job in train_jobs:
        resources = job[job.index("resources:") :].splitlines()[0]
        assert "runtime=1440" in resources and "mem_mb=8000" in resources, resources


def test_the_paper_preset_asks_a_gpu_per_training_unless_the_documented_override_says_cpu(workdir):
    """``training.device: auto`` requests ``gpu=1``; README's ``--config 'training={device: cpu}'`` (merged
    into the preset's training section) requests none."""
    requests = {}
    for device, override in (("auto", ()), ("cpu", ("--config", "training={device: cpu}"))):
        result = snakemake(workdir, "-n", "--cores", "1", "--configfile", "presets/paper.yaml", *override)
        assert result.returncode == 0, result.stderr[-3000:]
        train_jobs = (result.stdout + result.stderr).split("rule train:")[1:]
        requests[device] = {job[job.index("resources:") :].split("gpu=")[1][0] for job in train_jobs}
        assert len(train_jobs) == 145
    assert requests == {"auto": {"1"}, "cpu": {"0"}}


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
    rows = perturbation.groupby("study").size().to_dict()
    assert rows == {
        "trained": 2 * (1 + 5 * 2),  # 2 models x (beta 0 once + 5 betas x 2 draws)
        "nonlinear": 1 + 6 * 3,  # the study's own betas and draws
        "teacher_rnn": 2 * (1 + 5 * 2),
        "teacher_transformer": 1 + 5 * 2,
        "lstsq": 2 * 2 * 3 * (1 + 21 * 2),  # targets x widths x parameterizations x (1 + betas x draws)
    }
    stability = pd.read_csv(results / "summary" / "stability.csv")
    assert list(stability.columns[:10]) == [
        *MODEL_COLUMNS,
        "error_at_zero",
        "null_error",
        "stability_radius",
        "radius_censored",
    ]
    assert "stability_margin" in stability.columns and len(stability) == 2 + 1 + 2 + 1 + 12
    assert stability["stability_margin"].notna().all() and stability["null_error"].gt(0).all()
    trained = stability[stability["study"] == "trained"]
    assert (trained["error_at_zero"] < trained["null_error"]).all()
    teachers = pd.read_csv(results / "summary" / "teachers.csv")
    assert list(teachers["target"]) == ["teacher_r05", "teacher_r20"]
    assert teachers.loc[0, "decays_exponentially"] and not teachers.loc[1, "decays_exponentially"]
    agreement = pd.read_csv(results / "summary" / "memory_definitions.csv")
    assert len(agreement) == (2 + 1) * 2 and agreement["log_correlation"].gt(0.5).all()
    memory = pd.read_csv(results / "summary" / "memory.csv")
    assert list(memory.columns) == ["subject", "kind", "input", "t", "memory", *MODEL_COLUMNS]
    assert set(memory["kind"]) == {"target", "model"} and set(memory["input"]) == {
        "heaviside",
        "impulse",
    }
    target_memory = memory[
        (memory["target"] == "pol") & (memory["kind"] == "target") & (memory["input"] == "impulse")
    ]
    expected = (1 + 0.1 * target_memory["t"]) ** -1.1
    assert (target_memory["memory"] - expected).abs().max() < 1e-10
    for figure in [
        *PAPER_FIGURES,
        "perturbation_pol",
        "memory_trained",
        "stability_vs_width",
        "stability_summary",
    ]:
        assert (results / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    log = (results / "logs" / "train" / "pol" / "tanh" / "softplus" / "width8_seed0.log").read_text()
    assert log.count(" epoch ") == 3
    claims = pd.read_csv(results / "claims.csv")
    assert list(claims.columns) == [
        "claim",
        "figure",
        "statement",
        "statistic",
        "value",
        "ci_low",
        "ci_high",
        "test",
        "threshold",
        "holds",
    ]
    assert {"1a", "1b", "2", "3", "4", "7", "8", "10", "11", "12"} <= set(claims["figure"])
    assert (results / "claims.md").read_text().count("\n") == len(claims) + 2
    rerun = snakemake(workdir, "-n", "--cores", "1", "--configfile", "tests/config.tiny.yaml")
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    report = snakemake(workdir, "--configfile", "tests/config.tiny.yaml", "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    check_partial_reruns(workdir)  # dry runs only: the report above stays valid
    check_report_in_a_browser(results / "report.html", claims)  # last: it skips where Chromium is missing


def check_report_in_a_browser(report, claims):
    """Open the report in headless Chromium: the claims table renders on the front page, and every
    figure of every category renders as an image with its caption."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("no chromium/chromedriver (apt install chromium chromium-driver; .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    with tempfile.TemporaryDirectory() as profile:
        options.add_argument(f"--user-data-dir={profile}")
        browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
        try:
            browser.get(report.as_uri())
            wait = WebDriverWait(browser, 30)
            front = wait.until(lambda b: b.find_elements(By.XPATH, "//table[.//td[text()='1a-radius']]"))[0]
            rendered = [
                row.get_attribute("textContent") for row in front.find_elements(By.XPATH, ".//tr/td[1]")
            ]
            assert rendered == list(claims["claim"])  # the claims table, row for row
            shown = set()
            categories = ["Main grid", "Summary", *(f"Figure {name[3:]}" for name in PAPER_FIGURES)]
            for category in categories:
                for index in range(len(open_category(browser, wait, report, category))):
                    row = open_category(browser, wait, report, category)[index]
                    name = row.find_element(By.XPATH, "./td").text
                    browser.execute_script(
                        "arguments[0].click()", row.find_element(By.XPATH, ".//a[@iconname='eye']")
                    )
                    image = wait.until(
                        lambda b: b.find_element(By.XPATH, "//img[starts-with(@src, 'data:image/png')]")
                    )
                    width = wait.until(lambda b, image=image: b.execute_script(NATURAL_WIDTH, image))
                    assert width > 100, name
                    shown.add(name)
        finally:
            browser.quit()
    expected = {
        f"results/figures/{name}.png"
        for name in [
            *PAPER_FIGURES,
            "stability_summary",
            "memory_trained",
            "stability_vs_width",
            "perturbation_pol",
        ]
    }
    assert shown == expected


NATURAL_WIDTH = "return arguments[0].naturalWidth"
FIGURE_ROWS = "//td[contains(text(), 'results/figures/')]/.."


def open_category(browser, wait, report, category):
    """Load the report afresh, open one result category, and return its figure rows."""
    from selenium.webdriver.common.by import By

    browser.get(report.as_uri())
    link = wait.until(lambda b: b.find_elements(By.XPATH, f"//*[text()='{category}']"))[0]
    browser.execute_script("arguments[0].click()", link)  # a script click: no overlay can intercept it
    return wait.until(lambda b: b.find_elements(By.XPATH, FIGURE_ROWS))


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


PAPER_FIGURES = ["fig1", "fig2", "fig3", "fig4", "fig7", "fig8", "fig10", "fig11", "fig12"]
FIGURE_RULES = {*PAPER_FIGURES, "perturbation_grid", "memory_figure", "stability_figure", "stability_summary"}


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
    assert planned_jobs(workdir)["perturbation_error"] == 6  # every trained model of every study
    assert planned_jobs(workdir)["least_squares"] == 1
    assert "train" not in planned_jobs(workdir)

    (workdir / "one_cell.yaml").write_text(
        "overrides:\n  - match: {width: 8}\n    training: {learning_rate: 0.003}\n"
    )
    changed = planned_jobs(workdir, "one_cell.yaml")
    assert changed["train"] == 1 and changed["perturbation_error"] == 6 and changed["model_memory"] == 1
    assert "make_target" not in changed and "target_memory" not in changed
