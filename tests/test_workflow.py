"""The Snakemake workflow itself: dry runs of both presets, lint, a bad config, a tiny real run."""

import contextlib
import itertools
import json
import modulefinder
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from curse_of_memory.claims import COLUMNS as CLAIM_COLUMNS
from curse_of_memory.claims import RADIUS_COLUMNS as RADIUS_CLAIM_COLUMNS
from curse_of_memory.claims import WORST_CASE_COLUMNS as WORST_CASE_CLAIM_COLUMNS

from .conftest import snakemake

pytestmark = pytest.mark.workflow

# The model columns of the public tables, spelled out (docs/configuration.md, "Outputs"): a rename must
# fail here.
MODEL_COLUMNS = ["study", "target", "activation", "parameterization", "width", "seed"]


#: Rules defined once per trained study (``train_trained``, ``train_nonlinear``, …), counted together.
PER_STUDY_RULES = ("train", "perturbation_error_spectral", "perturbation_error", "model_memory")


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}, the per-study rules summed under their kind
    (one job per family: every width of a target x activation x parameterization x seed)."""
    lines = output[output.index("Job stats:") :].splitlines()[3:]
    counts = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        rule = next((kind for kind in PER_STUDY_RULES if parts[0].startswith(f"{kind}_")), parts[0])
        counts[rule] = counts.get(rule, 0) + int(parts[1])
    return counts


def train_jobs(output: str) -> list[str]:
    """The dry run's listing of each training job (up to the timestamp line of the next job)."""
    return [job.split("\n[")[0] for job in re.split(r"rule train_\w+:", output)[1:]]


def test_dry_run_of_the_quick_preset(workdir):
    result = snakemake(workdir, "-n", "--cores", "2")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    # families: the main grid's (3 seeds), Figure 2's (3 seeds), Figure 3's 6 teachers, Figure 12's (3 seeds)
    assert counts["train"] == 2 * 3 * 2 * 3 + 3 + 6 + 3
    assert counts["perturbation_error"] == counts["train"]
    # the spectral-norm draws of Figures 7 and 8's families: 4 panels x 3 seeds
    assert counts["perturbation_error_spectral"] == 4 * 3
    assert counts["model_memory"] == 4  # one per study: memory functions take milliseconds per model
    assert counts["make_target"] == counts["target_memory"] == 2 + 1 + 6 + 1
    assert counts["fit_classifier"] == 5 * 1 * 3  # Figure 9: parameterisations x widths x seeds
    assert counts["worst_case_max"] == 2 * 3 * 2 * 3  # every main-grid family, at the max norm only
    assert counts["worst_case"] == 3  # its figure, one per activation
    assert counts["learning_rate_sweep"] == 1 * 6 * 3  # targets x parameterisations x seeds
    for rule in [
        *(FIGURE_RULES - {"worst_case"}),
        "summarize_worst_case",
        "summarize_learning_rate",
        "classification_data",
        "summarize_classification",
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
    # families of the authors' sweep, of Figure 7's relu cells, then Figures 2, 3 (10 teachers) and 12
    # (3 seeds each but Figure 3's, whose replicates are its teachers)
    assert counts["train"] == 3 * (18 + 6 + 1) + 10 + 3 * 1
    assert "width64_seed12345/model.pt" in result.stdout  # every width of the authors' m in {8, ..., 64}
    # the worst case at both norms, from random draws at both norms, for every family of the main grid
    main = 3 * (18 + 6)
    assert counts["worst_case_max"] == counts["worst_case_spectral"] == main
    assert counts["perturbation_error_spectral"] == main
    assert counts["learning_rate_sweep"] == 2 * 6 * 3


def test_a_family_trains_every_width_in_one_job(workdir):
    """Chained early stopping reads each width's predecessor: a family's widths are one job's outputs."""
    result = snakemake(workdir, "-n", "--cores", "1", "--configfile", "tests/config.tiny.yaml")
    assert result.returncode == 0, result.stderr
    (job,) = {job for job in train_jobs(result.stdout) if "pol/tanh/softplus" in job}
    outputs = job[job.index("output:") :].splitlines()[0]
    for width in (4, 8):
        assert f"results/models/pol/tanh/softplus/width{width}_seed0/model.pt" in outputs


def test_one_figure_target_builds_only_its_inputs(workdir):
    result = snakemake(workdir, "-n", "--cores", "1", "fig7")
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    # relu vanilla and softplus on pol, 3 seeds: 6 families of 4 widths
    assert counts == {"make_target": 1, "train": 6, "perturbation_error": 6, "fig7": 1, "total": 14}


NEW_FIGURE = """
FIGURES.append(
    Figure(
        "margin_figure",
        "plot_stability.py",
        "Main grid",
        {"title": "Margins again", "plots": "the stability figure, registered anew", "paper": "none"},
        {"stability": "results/summary/stability.csv"},
        {"study": MAIN_STUDY},
        ("7/8 grid",),
    )
)
"""


def test_a_new_figure_is_one_registry_entry(workdir):
    """One entry appended to the registry gives the figure its rule, its place in `figures` and `all`, and
    its report caption: nothing else is edited."""
    registry = workdir / "workflow" / "rules" / "figure_registry.smk"
    registry.write_text(registry.read_text() + NEW_FIGURE)
    alone = snakemake(
        workdir, "margin_figure", "-n", "--cores", "1", "--configfile", "tests/config.tiny.yaml"
    )
    assert alone.returncode == 0, alone.stderr
    assert job_counts(alone.stdout)["margin_figure"] == 1
    every = snakemake(workdir, "-n", "--cores", "1", "--configfile", "tests/config.tiny.yaml")
    assert "results/figures/margin_figure.png" in every.stdout
    assert "results/report/captions/margin_figure.rst" in every.stdout


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


def test_tiny_end_to_end_run(tiny_run, tmp_path):
    workdir = tiny_run  # shared: every edit below is undone, and the report is written outside it
    results = workdir / "results"
    perturbation = pd.read_csv(results / "summary" / "perturbation.csv")
    assert list(perturbation.columns) == [*MODEL_COLUMNS, "beta", "draw", "error"]
    rows = perturbation.groupby("study").size().to_dict()
    assert rows == {
        "trained": 2 * (1 + 5 * 2),  # 2 models x (beta 0 once + 5 betas x 2 draws)
        "nonlinear": 1 + 6 * 3,  # the study's own betas and draws
        "teacher_rnn": 2 * (1 + 5 * 2),
        "teacher_transformer": 1 + 5 * 2,
        # seeds x targets x widths x parameterizations x (1 + betas x draws)
        "lstsq": 3 * 2 * 2 * 3 * (1 + 21 * 2),
    }
    stability = pd.read_csv(results / "summary" / "stability.csv")
    assert list(stability.columns[:13]) == [
        *MODEL_COLUMNS,
        "error_at_zero",
        "null_error",
        "relative_error_at_zero",
        "stability_radius",
        "radius_low",
        "radius_high",
        "radius_censoring",
    ]
    assert "stability_margin" in stability.columns and len(stability) == 2 + 1 + 2 + 1 + 3 * 12
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
        *SPECTRAL_FIGURES,
        "perturbation_pol",
        "memory_trained",
        "stability_vs_width",
        "stability_summary",
        "gradient_ratio",
        "worst_case_tanh",
        "learning_rate_stability",
    ]:
        assert (results / "figures" / f"{figure}.png").stat().st_size > 10_000, figure
    log = (results / "logs" / "train" / "pol" / "tanh" / "softplus" / "seed0.log").read_text()
    metrics = [
        json.loads(
            (
                results / "models" / "pol" / "tanh" / "softplus" / f"width{w}_seed0" / "metrics.json"
            ).read_text()
        )
        for w in (4, 8)
    ]
    assert log.count(" epoch ") == sum(m["epochs"] for m in metrics)  # one line per epoch of every width
    # the chained stop: the first width stops after the minimum 2 epochs (its loss is below 100), the
    # second at half the first's best loss, or at max_epochs
    assert (metrics[0]["epochs"], metrics[0]["stop_reason"], metrics[0]["stop_below"]) == (
        2,
        "reached_stop_level",
        100.0,
    )
    assert metrics[1]["stop_below"] == 0.5 * metrics[0]["best_validation_loss"]
    claims = pd.read_csv(results / "claims.csv")
    assert list(claims.columns) == [
        *CLAIM_COLUMNS,
        *RADIUS_CLAIM_COLUMNS,
        "control",
        *WORST_CASE_CLAIM_COLUMNS,
        "worst_case_norm",
    ]
    main_grid = claims["figure"].isin(["7", "8", "7/8 grid"])  # every row of theirs read on the radius too
    assert claims["radius_verdict"].notna().eq(main_grid).all() and main_grid.any()
    # every figure with claims; Figure 8 claims only forms other than the baseline, and the tiny grid has none
    assert {"1a", "1b", "2", "3", "4", "7", "9", "10", "11", "12"} <= set(claims["figure"])
    assert set(claims["verdict"]) <= {"holds", "does not hold", "inconclusive"}
    assert (claims["holds"] == (claims["verdict"] == "holds")).all()
    assert (results / "claims.md").read_text().count("\n") == len(claims) + 2
    # the negative controls: the same models before training / fitting, every controlled claim, none holds
    controls = pd.read_csv(results / "controls" / "claims.csv")
    assert list(controls.columns) == ["control", *CLAIM_COLUMNS]
    # the tiny grid's one form (softplus) is its baseline: Figure 7's curse claim on it, no stable-form claims
    expected = {"1a", "1b", "4-exp", "2", "3", "7-without", "curse", "9", "12"}
    assert expected <= set(controls["claim"])
    assert not controls["holds"].any()
    control_stability = pd.read_csv(results / "controls" / "summary" / "stability.csv")
    assert len(control_stability) == len(stability)  # every trained and fitted model has its control
    keys = MODEL_COLUMNS
    untrained = control_stability[control_stability["study"] == "trained"].set_index(keys)["error_at_zero"]
    assert (untrained != trained.set_index(keys)["error_at_zero"]).all()  # other models: before training
    unfitted = control_stability[control_stability["study"] == "lstsq"]  # zero kernels: E_m(0) = E_null
    assert len(unfitted) and np.allclose(unfitted["error_at_zero"], unfitted["null_error"])
    check_classification_outputs(results)
    ratios = pd.read_csv(results / "summary" / "gradient_ratio.csv")
    assert list(ratios.columns) == [
        *MODEL_COLUMNS,
        "epoch",
        "gradient_over_weight",
        "gradient_over_weight_median",
        "stability_margin",
    ]
    epochs = sum(len(pd.read_csv(path)) for path in (results / "models").rglob("history.csv"))
    assert len(ratios) == epochs + 2 * 2 * (1 + 2)  # every trained model's epochs, the classifiers' 0, 1, 2
    softplus = ratios[ratios["parameterization"] == "softplus"]
    assert (
        softplus["gradient_over_weight"].gt(0).all() and np.isfinite(softplus["gradient_over_weight"]).all()
    )
    check_worst_case_outputs(results, claims)
    check_learning_rate_outputs(results, claims)
    rerun = snakemake(workdir, "-n", "--cores", "1", "--configfile", "tests/config.tiny.yaml")
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    report_page = tmp_path / "report.html"
    report = snakemake(workdir, "--configfile", "tests/config.tiny.yaml", "--report", str(report_page))
    assert report.returncode == 0, report.stderr[-3000:]
    check_code_inputs_follow_the_import_graph(workdir)  # dry runs only, every edit undone
    check_partial_reruns(workdir, tmp_path)  # dry runs only, every edit undone
    check_report_in_a_browser(report_page, claims)  # last: it skips where Chromium is missing


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
            front = wait.until(lambda b: b.find_elements(By.XPATH, "//table[.//td[text()='1a']]"))[0]
            rendered = [
                row.get_attribute("textContent") for row in front.find_elements(By.XPATH, ".//tr/td[1]")
            ]
            assert rendered == list(claims["claim"])  # the claims table, row for row
            shown = set()
            categories = [
                "Main grid",
                "Summary",
                "Beyond the paper",
                *(f"Figure {name[3:]}" for name in PAPER_FIGURES),
            ]
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
            *SPECTRAL_FIGURES,
            "stability_summary",
            "memory_trained",
            "stability_vs_width",
            "perturbation_pol",
            "gradient_ratio",
            "worst_case_tanh",
            "learning_rate_stability",
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


PAPER_FIGURES = ["fig1", "fig2", "fig3", "fig4", "fig7", "fig8", "fig9", "fig10", "fig11", "fig12"]
SPECTRAL_FIGURES = ["fig7_spectral", "fig8_spectral"]
FIGURE_RULES = {
    *PAPER_FIGURES,
    *SPECTRAL_FIGURES,
    "perturbation_grid",
    "memory_figure",
    "stability_figure",
    "stability_summary",
    "gradient_ratio",
    "worst_case",
    "learning_rate_stability",
}


def planned_jobs(workdir, *configfiles) -> dict[str, int]:
    result = snakemake(workdir, "-n", "--cores", "1", "--configfile", "tests/config.tiny.yaml", *configfiles)
    assert result.returncode == 0, result.stderr
    counts = job_counts(result.stdout)
    return {rule: count for rule, count in counts.items() if rule not in {"all", "total"}}


@contextlib.contextmanager
def edited(path):
    """A file's content changed (a newer mtime alone is not a change to Snakemake), and put back with its
    times afterwards, so that the finished run it belongs to is as it was."""
    text, times = path.read_text(), os.stat(path)
    with open(path, "a") as handle:
        handle.write("\n# edited by a test\n")
    try:
        yield
    finally:
        path.write_text(text)
        os.utime(path, ns=(times.st_atime_ns, times.st_mtime_ns))


def rule_scripts(workdir) -> dict[str, str]:
    """Each rule of a finished run and its script, from Snakemake's own records of the run's jobs."""
    scripts = {}
    for record in (workdir / ".snakemake" / "metadata").iterdir():
        job = json.loads(record.read_text())
        named = " ".join([job.get("code") or "", *(job.get("input") or [])])  # figure rules: an input
        script = re.search(r"scripts/(\w+\.py)", named)
        if script:
            scripts[job["rule"]] = script.group(1)
    return scripts


def check_classification_outputs(results: Path) -> None:
    """The classification study of the tiny config (2 parameterisations x 2 seeds, 2 epochs): its tables,
    Table 1 and the epoch-0 rows that every parameterisation of a seed shares."""
    history = pd.read_csv(results / "summary" / "classification.csv")
    assert list(history.columns) == [
        "dataset",
        "parameterization",
        "width",
        "seed",
        "epoch",
        "train_loss",
        "train_accuracy",
        "validation_loss",
        "validation_accuracy",
    ]
    assert len(history) == 2 * 2 * (1 + 2) and set(history["dataset"]) == {"digits_8x8"}
    start = history[history["epoch"] == 0].pivot(
        index="seed", columns="parameterization", values="validation_loss"
    )
    assert np.allclose(start["direct"], start["softplus"], rtol=1e-12)  # the same initial weights
    test = pd.read_csv(results / "summary" / "classification_test.csv")
    assert list(test.columns[:6]) == [
        "dataset",
        "parameterization",
        "width",
        "seed",
        "test_loss",
        "test_accuracy",
    ]
    assert len(test) == 4 and test["test_accuracy"].between(0, 1).all() and test["best_epoch"].ge(1).all()
    table = (results / "summary" / "classification_table.md").read_text()
    assert table.count("\n") == 2 + 2 and "digits_8x8 | 8 | softplus" in table
    assert "Table 1" in (results / "report" / "captions" / "fig9.rst").read_text()
    log = (results / "logs" / "classification" / "softplus" / "width8_seed0.log").read_text()
    assert log.count("validation loss") == 1 + 2  # one line per epoch, the initialisation included


def check_worst_case_outputs(results: Path, claims: pd.DataFrame) -> None:
    """The worst case of the tiny main grid (2 models, 5 betas, 2 steps): never below the random draws,
    climbed at every positive beta, the radii read off it, and the main grid's claims decided on it."""
    worst = pd.read_csv(results / "summary" / "worst_case.csv")
    assert list(worst.columns) == [
        *MODEL_COLUMNS,
        "beta",
        "norm",
        "random_error",
        "worst_case_error",
        "steps",
    ]
    assert len(worst) == 2 * 6 and set(worst["norm"]) == {"max"}
    assert (worst["worst_case_error"] >= worst["random_error"]).all()
    assert (worst["steps"] == np.where(worst["beta"] > 0, 2, 0)).all()
    assert (worst["worst_case_error"] > worst["random_error"]).sum() >= 4  # the ascent found more somewhere
    random = pd.read_csv(results / "summary" / "perturbation.csv")
    random = random[random["study"] == "trained"].groupby([*MODEL_COLUMNS, "beta"])["error"].max()
    assert np.array_equal(
        worst.set_index([*MODEL_COLUMNS, "beta"])["random_error"].to_numpy(), random.to_numpy()
    )
    stability = pd.read_csv(results / "summary" / "stability_worst_case.csv")
    assert (
        len(stability) == 2 and (stability["stability_radius"] <= stability["random_stability_radius"]).all()
    )
    reference = pd.read_csv(results / "summary" / "stability.csv").set_index(MODEL_COLUMNS)[
        "stability_radius"
    ]
    assert np.allclose(
        stability.set_index(MODEL_COLUMNS)["random_stability_radius"],
        reference.loc[stability.set_index(MODEL_COLUMNS).index],
    )
    assert len(pd.read_csv(results / "summary" / "crossings_worst_case.csv")) == 1
    decided = claims[claims["worst_case_verdict"].notna()]
    assert set(decided["figure"]) == {"7"}  # Figure 7's claim on the baseline (Figure 8 claims no form here)
    assert set(decided["worst_case_norm"]) == {"max"}


def check_learning_rate_outputs(results: Path, claims: pd.DataFrame) -> None:
    """The tiny sweep (pol, direct/softplus/best, width 4, seed 0, rates 0.01 and 1, 2 epochs): one row
    per run with the issue's columns, every form from the same initial model, the largest stable rates,
    their table, and both claims (inconclusive: one seed)."""
    sweep = pd.read_csv(results / "summary" / "learning_rate_stability.csv")
    assert list(sweep.columns[:9]) == [
        "target",
        "activation",
        "parameterization",
        "width",
        "learning_rate",
        "seed",
        "diverged",
        "final_validation_loss",
        "epochs_to_level",
    ]
    assert len(sweep) == 3 * 2 and set(sweep["learning_rate"]) == {0.01, 1.0}
    assert np.allclose(sweep["initial_validation_loss"], sweep["initial_validation_loss"].iloc[0], rtol=1e-12)
    small = sweep[sweep["learning_rate"] == 0.01]
    assert (
        not small["diverged"].any()
        and (small["final_validation_loss"] < small["initial_validation_loss"]).all()
    )
    largest = pd.read_csv(results / "summary" / "largest_stable_learning_rate.csv")
    assert len(largest) == 3 and largest["largest_stable_learning_rate"].isin([0.01, 1.0]).all()
    assert (results / "summary" / "largest_stable_learning_rate.md").read_text().count("\n") == 2 + 3
    rows = claims[claims["figure"] == "lr"].set_index("claim")
    assert list(rows.index) == ["lr-stable", "lr-best"] and set(rows["verdict"]) == {"inconclusive"}


def script_imports(script: Path, source: Path) -> set[str]:
    """The package files a script runs, by the standard library's module finder (an independent reading
    of the import graph)."""
    finder = modulefinder.ModuleFinder(path=[str(source)])
    finder.run_script(str(script))
    files = set()
    for name, module in finder.modules.items():
        if name.split(".")[0] == "curse_of_memory" and module.__file__:
            files.add(Path(module.__file__).name)
    return files


TINY = "tests/config.tiny.yaml"


def rule_edges(workdir) -> list[tuple[str, str]]:
    """(producer, consumer) pairs of the tiny config's rule graph."""
    dot = snakemake(workdir, "--rulegraph", "--configfile", TINY).stdout
    names = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)\"", dot, re.MULTILINE))
    return [(names[a], names[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.MULTILINE)]


def downstream(edges: list[tuple[str, str]], rules: set[str]) -> set[str]:
    """``rules`` and every rule that consumes their outputs, directly or not."""
    reached, pending = set(), set(rules)
    while pending:
        rule = pending.pop()
        reached.add(rule)
        pending |= {b for a, b in edges if a == rule} - reached
    return reached


def recorded_code_inputs(workdir) -> dict[str, set[str]]:
    """Each rule of a finished run and the package files among its inputs, from Snakemake's records."""
    inputs: dict[str, set[str]] = {}
    for record in (workdir / ".snakemake" / "metadata").iterdir():
        job = json.loads(record.read_text())
        files = {Path(path).name for path in job.get("input") or [] if "/src/curse_of_memory/" in path}
        inputs.setdefault(job["rule"], set()).update(files)
    return inputs


#: Modules whose edit is replayed by dry runs: one most scripts import, one reached only through other
#: modules, and one a single summary imports.
EDITED_MODULES = ("perturbation.py", "decay.py", "learning_rate_tables.py")


def check_code_inputs_follow_the_import_graph(workdir):
    """Every rule's package inputs are exactly the files its script runs (the standard library's module
    finder reads the import graph independently), so editing any module reruns exactly the rules whose
    scripts import it, directly or through other modules; dry runs replay that for three modules, with
    everything downstream of those rules (their code inputs come from the import graph, not from
    hand-kept lists)."""
    package = workdir / "src" / "curse_of_memory"
    scripts = rule_scripts(workdir)
    imports = {
        script: script_imports(workdir / "workflow" / "scripts" / script, workdir / "src")
        for script in set(scripts.values())
    }
    forced = snakemake(workdir, "-n", "--forceall", "--cores", "1", "--configfile", TINY)
    assert set(job_names(forced.stdout)) - {"all"} == set(scripts)  # every rule ran
    recorded = recorded_code_inputs(workdir)
    for rule, script in scripts.items():
        assert recorded[rule] == imports[script], rule
    edges = rule_edges(workdir)
    for name in EDITED_MODULES:
        with edited(package / name):
            importers = {rule for rule, script in scripts.items() if name in imports[script]}
            planned = set(job_names(snakemake(workdir, "-n", "--cores", "1", "--configfile", TINY).stdout))
            assert importers and planned == downstream(edges, importers) | {"all"}, name


def job_names(output: str) -> list[str]:
    """The rule names of a dry run's 'Job stats' table (none when there is nothing to do)."""
    if "Job stats:" not in output:
        return []
    lines = output[output.index("Job stats:") :].splitlines()[3:]
    rows = itertools.takewhile(lambda line: len(line.split()) == 2, lines)
    return [line.split()[0] for line in rows if line.split()[0] != "total"]


def check_partial_reruns(workdir, scratch):
    """After a complete run, each kind of change reruns exactly what depends on it (every change undone
    afterwards; ``scratch``: a folder outside the run for the extra config file)."""
    with edited(workdir / "workflow/resources/style.mplstyle"):
        assert set(planned_jobs(workdir)) == FIGURE_RULES
        with edited(workdir / "src/curse_of_memory/perturbation.py"):
            planned = planned_jobs(workdir)
            assert planned["perturbation_error"] == 5  # every family of every study
            assert planned["perturbation_error_spectral"] == 1  # and the spectral draws of Figures 7, 8
            assert "least_squares" not in planned  # its β grid comes from stability.py
            assert "train" not in planned

            one_cell = scratch / "one_cell.yaml"
            one_cell.write_text("overrides:\n  - match: {width: 8}\n    training: {learning_rate: 0.003}\n")
            changed = planned_jobs(workdir, str(one_cell))
            # the width-8 cell's family (the only one with width 8) retrains whole: chaining links its
            # widths; the memory functions of its study are one job
            assert (changed["train"], changed["perturbation_error"], changed["model_memory"]) == (1, 5, 1)
            assert "make_target" not in changed and "target_memory" not in changed
