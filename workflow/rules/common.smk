# Helpers shared by all rule files — config validation, the cells of every study, the paths of artifacts.

import os
import re
from dataclasses import dataclass, field

from snakemake.utils import min_version

from curse_of_memory import job_resources
from curse_of_memory.code_inputs import PACKAGE, code_files
from curse_of_memory.config import validate_config
from curse_of_memory.plugins import REGISTRY_MODULES, load_plugins
from curse_of_memory.design import (
    MAIN_STUDY,
    cell_perturbation,
    cell_training,
    merged,
    study_cells,
    study_grids,
    target_data,
    target_study,
)

min_version("9.0")

# The config's plugins register their names first, so that the config may use them.
PLUGIN_FILES = [str(path) for path in load_plugins(config.get("plugins", []))]
# Fill defaults and fail before any job runs on a wrong key, type or value.
validate_config(config, workflow.source_path("../schemas/config.schema.yaml"))

# One training run: target x activation x parameterisation x width x seed. A target belongs to one
# trained study (the main `grid`, study "trained", or one of `studies`), so paths need no study part.
CELL = "{target}/{activation}/{parameterization}/width{width}_seed{seed}"
# The claims' negative control: every trained and fitted model also evaluated at initialisation.
CONTROLS = config["claims"]["controls"]["initialization"]


def grid_cells(study=None):
    """Every trained cell (of one study, or of all) as a dict of its wildcard values plus ``study``."""
    return study_cells(config, study)


def cell_paths(pattern, cells=None):
    """``pattern`` (containing CELL's wildcards) filled in for ``cells`` (default: every trained cell)."""
    return [pattern.format(**cell) for cell in (grid_cells() if cells is None else cells)]


def trained_targets():
    """The targets of every trained study, in config order."""
    return list(dict.fromkeys(t for grid in study_grids(config).values() for t in grid["targets"]))


def has_study(name):
    """Whether the config defines the trained study ``name``."""
    return name in config["studies"]


def figure_files(name):
    """The files of one figure, one per configured format."""
    return expand("results/figures/{name}.{fmt}", name=name, fmt=config["figures"]["formats"])


def report_figure(name, category, caption_name=None):
    """The files of one figure, the PNG (else the first format) flagged for the report with its caption
    (written by rule report_pages to results/report/captions/)."""
    files = figure_files(name)
    shown = next((f for f in files if f.endswith(".png")), files[0])
    caption = f"../../results/report/captions/{caption_name or name}.rst"
    return [report(f, caption=caption, category=category) if f == shown else f for f in files]


def script_code(script):
    """The package files that ``workflow/scripts/<script>`` runs, from its import graph (Snakemake tracks a
    script's own text, not its imports): editing one reruns exactly the rules whose scripts import it. A
    script that reads a registry runs the config's plugins too."""
    basedir = workflow.basedir
    files = code_files(os.path.join(basedir, "workflow", "scripts", script), os.path.join(basedir, "src", PACKAGE))
    reads_registries = any(os.path.splitext(os.path.basename(path))[0] in REGISTRY_MODULES for path in files)
    return files + PLUGIN_FILES if reads_registries else files


def training_threads():
    return config["training"]["threads"]


def uses_gpu():
    """Torch jobs (training, perturbation errors, classifiers, learning-rate sweeps) request ``gpu=1`` when
    they may run on CUDA (``cuda``, or ``auto`` as in the paper preset); a CPU-only cluster runs the paper
    preset with ``--config 'training={device: cpu}'``."""
    return config["training"]["device"] in ("cuda", "auto")


def job_request(estimate, gpu=False):
    """A rule's resources from ``estimate(wildcards) -> (seconds, float64 values held)``, bounded by
    job_resources: the walltime grows with each retry up to `cluster.max_runtime` (a job killed at its
    limit resumes from its checkpoint); a GPU job goes to `cluster.gpu_partition` when one is named."""
    cap = config["cluster"]["max_runtime"] or float("inf")

    def runtime(wildcards, attempt):
        return min(cap, attempt * job_resources.runtime_minutes(estimate(wildcards)[0]))

    resources = {
        "runtime": runtime,
        "mem_mb": lambda wildcards: job_resources.memory_mb(estimate(wildcards)[1]),
        "gpu": int(gpu),
    }
    if gpu and config["cluster"]["gpu_partition"]:
        resources["slurm_partition"] = config["cluster"]["gpu_partition"]
    return resources


def torch_job_request(estimate):
    """job_request for a job that runs torch on `training.device` (a GPU when uses_gpu())."""
    return job_request(estimate, gpu=uses_gpu())


#: Summaries, figures, claims, memory functions, least squares: one thread, minutes, a few GB at most.
LIGHT_JOB = job_resources.LIGHT_JOB


def study_grid(target):
    """The grid of the trained study that ``target`` belongs to."""
    return study_grids(config)[target_study(config, target)]


def target_evaluation(target):
    """How a target's models are evaluated (test sequences used, loss weights): its first cell's settings."""
    cell = next(c for c in grid_cells() if c["target"] == target)
    return {
        "size": cell_perturbation(config, cell)["evaluation_size"],
        "loss_weight_power": cell_training(config, cell)["loss_weight_power"],
    }


# A family: every width of one (target, activation, parameterization, seed). Its widths train in one job,
# in increasing order (the chained early stopping needs each width's predecessor), and are evaluated in
# one job each for perturbations and memory functions: one process start-up (torch, pandas) per family,
# not per model. The per-model files stay the artifacts every later rule reads.
FAMILY = "{target}/{activation}/{parameterization}/seed{seed}"


def family_widths(study):
    """The widths of one trained study's families, in training order (increasing)."""
    return sorted(study_grids(config)[study]["widths"])


def family_files(study, pattern):
    """``pattern`` (containing CELL's wildcards) for every width of a family of ``study``; the family's
    wildcards (target, activation, parameterization, seed) stay wildcards."""
    return [pattern.replace("{width}", str(width)) for width in family_widths(study)]


def study_target_pattern(study):
    """A wildcard constraint matching exactly the targets of one trained study (rules are per study)."""
    return "|".join(re.escape(target) for target in study_grids(config)[study]["targets"])


def family_cells(wildcards, study):
    """The cells of the family in ``wildcards``, one per width of ``study``, in training order."""
    family = {**dict(wildcards.items()), "seed": int(wildcards.seed)}
    return [{**family, "width": width} for width in family_widths(study)]


def perturbation_variants(study):
    """(path suffix, norm) of each set of perturbation draws a study's families get: the configured norm
    (suffix "", norm None), and for the main grid with `figures.spectral_norm` the spectral norm too."""
    variants = [("", None)]
    if study == MAIN_STUDY and config["figures"]["spectral_norm"]:
        variants.append(("_spectral", "spectral"))
    return variants


# Beyond the paper: the main grid's worst-case perturbation errors, at each norm of `worst_case.norms`.
WORST_CASE = config["worst_case"]
WORST_CASE_NORMS = WORST_CASE["norms"] if WORST_CASE["enabled"] else []
# the norm whose worst case the claims are evaluated on again: the configured one where it was climbed
WORST_CASE_CLAIM_NORM = next(
    (norm for norm in WORST_CASE_NORMS if norm == config["perturbation"]["norm"]), WORST_CASE_NORMS[0] if WORST_CASE_NORMS else None
)


def draws_suffix(norm):
    """The path suffix of the main grid's random draws at ``norm``: none at perturbation.norm, else _<norm>."""
    return "" if norm == config["perturbation"]["norm"] else f"_{norm}"


def draws_variants(study):
    """(path suffix, norm) of every set of random draws a study's families get: the figures' (see
    perturbation_variants) and, for the main grid, each worst-case norm's (the ascent's starts)."""
    variants = perturbation_variants(study)
    if study == MAIN_STUDY:
        made = {suffix for suffix, _ in variants}
        variants += [(draws_suffix(norm), norm) for norm in WORST_CASE_NORMS if draws_suffix(norm) not in made]
    return variants


def family_settings(study, settings_of):
    """A params function: ``settings_of(config, cell)`` for each cell of the family, in training order."""
    return lambda wildcards: [settings_of(config, cell) for cell in family_cells(wildcards, study)]


def panel(target, activation, parameterization):
    """One perturbation panel: the family of a (target, activation, parameterization)."""
    return {"target": target, "activation": activation, "parameterization": parameterization}


def panel_cells(panels):
    """The trained cells (every width and seed of the panel's study) that a list of panels draws."""
    cells = []
    for p in panels:
        grid = study_grid(p["target"])
        study = target_study(config, p["target"])
        cells += [{**p, "study": study, "width": w, "seed": s} for w in grid["widths"] for s in grid["seeds"]]
    return cells


def study_panels(study):
    """Every (target, activation, parameterization) family of one trained study."""
    grid = study_grids(config)[study]
    return [
        panel(t, a, p) for t in grid["targets"] for a in grid["activations"] for p in grid["parameterizations"]
    ]


# Figures: the shared style file and the panels of the paper's figures.
FIGURE_STYLE = config["figures"]["style"]
FIG7 = config["figures"]["fig7"]
FIG8 = config["figures"]["fig8"]
FIG7_PANELS = [panel(FIG7["target"], FIG7["activation"], p) for p in FIG7["parameterizations"]]
# Figure 8: one row of panels (one per activation) per parameterisation
FIG8_PANELS = [panel(FIG8["target"], a, p) for p in FIG8["parameterizations"] for a in FIG8["activations"]]
FIG1, FIG4 = config["figures"]["fig1"], config["figures"]["fig4"]
FIG1_PANELS = [panel(t, "linear", FIG1["parameterization"]) for t in FIG1["targets"]]
FIG4_PANELS = [panel(FIG4["target"], "linear", p) for p in FIG4["parameterizations"]]
FIG3_STUDY = config["figures"]["fig3"]["study"]
FIG3_TEACHERS = study_grids(config)[FIG3_STUDY]["targets"] if has_study(FIG3_STUDY) else []


def grid_panels(wildcards):
    """Every (activation, parameterization) panel of one target of the main grid."""
    return [
        panel(wildcards.target, a, p)
        for a in config["grid"]["activations"]
        for p in config["grid"]["parameterizations"]
    ]


# The classification study (Figure 9, Table 1): one run per (parameterization, width, seed).
CLASSIFICATION = config["classification"]
CLASSIFICATION_RUN = "results/classification/{parameterization}/width{width}_seed{seed}"
CLASSIFICATION_CELLS = (
    [
        {"parameterization": parameterization, "width": width, "seed": seed}
        for parameterization in CLASSIFICATION["parameterizations"]
        for width in CLASSIFICATION["widths"]
        for seed in CLASSIFICATION["seeds"]
    ]
    if CLASSIFICATION["enabled"]
    else []
)
CLASSIFICATION_RUNS = [CLASSIFICATION_RUN.format(**cell) for cell in CLASSIFICATION_CELLS]
CLASSIFICATION_SETTINGS = [
    "activation",
    "dt",
    "initial_eigenvalues",
    "epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "evaluation_batch_size",
]


def classification_files(wildcards):
    """The IDX files of dataset `idx` that exist (none for a bundled set), so that replacing one reruns the
    study; a missing or unset one fails job classification_data with its config key, not the DAG (a dry
    run of the paper preset works before the files are in place)."""
    if CLASSIFICATION["dataset"] != "idx":
        return []
    paths = [CLASSIFICATION["idx"][key] for key in ("train_images", "train_labels", "test_images", "test_labels")]
    return [path for path in paths if path and os.path.isfile(path)]


# What each heavy job costs, for its resources (job_resources bounds every estimate from measurements).
def dataset_values(target):
    """The float64 values of a target's dataset (every split, inputs and outputs, the longer length)."""
    data = target_data(config, target)
    length = max(data["sequence_length"], data["test_sequence_length"] or 0)
    return job_resources.split_values(data["sizes"], length)


def training_estimate(study):
    """(seconds, values) of one family's training job: every width to its epoch limit."""

    def estimate(wildcards):
        cells = family_cells(wildcards, study)
        data = target_data(config, wildcards.target)
        seconds = job_resources.training_seconds(
            [cell["width"] for cell in cells],
            [cell_training(config, cell)["max_epochs"] for cell in cells],
            data["sizes"],
            data["sequence_length"],
        )
        return seconds, dataset_values(wildcards.target)

    return estimate


def perturbed_members(settings):
    """The perturbed models one trained model is evaluated as: every (beta, draw) pair, and itself."""
    betas = settings["betas"]
    return betas["count"] * settings["draws"] + int(betas["include_zero"]) + 1


def evaluation_length(target):
    data = target_data(config, target)
    return data["test_sequence_length"] or data["sequence_length"]


def perturbation_estimate(study, controls):
    """(seconds, values) of one family's perturbation-error job, twice over with the controls."""

    def estimate(wildcards):
        settings = cell_perturbation(config, family_cells(wildcards, study)[0])
        seconds = job_resources.perturbation_seconds(
            family_widths(study),
            perturbed_members(settings),
            settings["evaluation_size"],
            evaluation_length(wildcards.target),
        )
        return seconds * (2 if controls else 1), dataset_values(wildcards.target)

    return estimate


def worst_case_estimate(wildcards):
    """(seconds, values) of one main-grid family's worst-case job at one norm (its ascent traces at most
    job_resources.ASCENT_TRACED_VALUES state values at a time)."""
    settings = cell_perturbation(config, family_cells(wildcards, MAIN_STUDY)[0])
    seconds = job_resources.worst_case_seconds(
        family_widths(MAIN_STUDY),
        settings["betas"]["count"],
        WORST_CASE,
        settings["evaluation_size"],
        evaluation_length(wildcards.target),
    )
    traced = job_resources.BACKWARD_FACTOR * job_resources.ASCENT_TRACED_VALUES
    return seconds, dataset_values(wildcards.target) + traced


def classifier_estimate(wildcards):
    """(seconds, values) of one classifier: its epochs over every image of the configured dataset."""
    images, pixels = job_resources.CLASSIFICATION_IMAGES[CLASSIFICATION["dataset"]]
    seconds = job_resources.classifier_seconds(int(wildcards.width), CLASSIFICATION["epochs"], images, pixels)
    return seconds, images * pixels


def learning_rate_estimate(wildcards):
    """(seconds, values) of one learning-rate sweep: every width at every rate."""
    section = config["learning_rate_stability"]
    data = target_data(config, wildcards.target)
    seconds = job_resources.learning_rate_seconds(
        section["widths"],
        len(section["learning_rates"]),
        merged(config["training"], section["training"])["max_epochs"],
        data["sizes"],
        data["sequence_length"],
    )
    return seconds, dataset_values(wildcards.target)


def target_estimate(wildcards):
    """(seconds, values) of making a target's dataset: light work, memory for its arrays."""
    return 0.0, dataset_values(wildcards.target)


# The figure registry's entries (figure_registry.smk) and the helpers that build them.
@dataclass(frozen=True)
class Figure:
    """Rule ``name`` draws results/figures/<stem>.<fmt> (stem: the name) with workflow/scripts/<script>
    from the named ``inputs`` (a value may be a function of the wildcards) and ``params``; ``wildcards``
    lists the values a wildcard of the stem takes. The report shows it under ``category`` with ``caption``
    (title, plots, paper) and this run's rows of results/claims.csv whose ``figure`` is in ``claims``."""

    name: str
    script: str
    category: str
    caption: dict
    inputs: dict
    params: dict = field(default_factory=dict)
    claims: tuple = ()
    stem: str = ""
    wildcards: dict = field(default_factory=dict)

    @property
    def file_stem(self):
        return self.stem or self.name


def _perturbation_panels(name, panels, columns, title, suffix, norm, caption, claims):
    """Figures 7 and 8: perturbation-error panels of trained families, at the configured norm or (suffix
    ``_spectral``) at spectral norm."""
    return Figure(
        f"{name}{suffix}",
        "plot_perturbation.py",
        f"Figure {name[3:]}",
        caption,
        {"draws": cell_paths(f"results/perturbation{suffix}/{CELL}.csv", panel_cells(panels))},
        {
            "cells": panel_cells(panels),
            "panels": panels,
            "columns": columns,
            "title": title + (f" ({norm} norm)" if norm else ""),
        },
        claims if not suffix else (),
    )


def _study_panels(study):
    """Figures 2 and 12: the families of a study's first target."""
    return [p for p in study_panels(study) if p["target"] == study_grids(config)[study]["targets"][0]]
