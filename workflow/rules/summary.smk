# Stage 4: tidy tables over every study (names and columns are a public interface; see docs/configuration.md).

LSTSQ = bool(config["lstsq"]["targets"])
LSTSQ_FITS = ["results/lstsq/fits.csv"] if LSTSQ else []


# The trained and fitted models' tables, and with the claims' negative controls the same tables for the
# models before training / fitting (rules *_controls, in results/controls/summary/).
SUMMARY_SETS = {"": "results", **({"_controls": "results/controls"} if CONTROLS else {})}

for _suffix, _root in SUMMARY_SETS.items():

    rule:
        name:
            f"summarize_perturbation{_suffix}"
        input:
            code=script_code("summarize_perturbation.py"),
            draws=cell_paths(f"{_root}/perturbation/{CELL}.csv"),
            lstsq=[f"{_root}/lstsq/perturbation.csv"] if LSTSQ else [],
        output:
            table=f"{_root}/summary/perturbation.csv",
        params:
            cells=grid_cells(),
        threads: 1
        resources:
            **LIGHT_JOB,
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            f"results/logs/summary/perturbation{_suffix}.log",
        script:
            "../scripts/summarize_perturbation.py"

    rule:
        name:
            f"summarize_stability{_suffix}"
        input:
            code=script_code("summarize_stability.py"),
            perturbation=f"{_root}/summary/perturbation.csv",
            # stability margins of the trained models (the controls' untrained ones are not recorded)
            metrics=[] if _suffix else cell_paths(f"results/models/{CELL}/metrics.json"),
            datasets=expand("results/targets/{target}.npz", target=trained_targets()),
            lstsq=LSTSQ_FITS,  # E_null and margins of the kernels (the unfitted controls share the rates)
        output:
            stability=f"{_root}/summary/stability.csv",
            crossings=f"{_root}/summary/crossings.csv",
        params:
            cells=[] if _suffix else grid_cells(),
            targets=trained_targets(),
            # each target's zero-predictor error uses its own study's evaluation set and loss
            evaluation={t: target_evaluation(t) for t in trained_targets()},
            threshold=config["stability"]["relative_error_threshold"],
        threads: 1
        resources:
            **LIGHT_JOB,
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            f"results/logs/summary/stability{_suffix}.log",
        script:
            "../scripts/summarize_stability.py"



# Figures 7 and 8's trained cells (a panel the two figures share, once), when the run also perturbs them
# at spectral norm (figures.spectral_norm).
SPECTRAL_PANELS = FIG7_PANELS + [p for p in FIG8_PANELS if p not in FIG7_PANELS]
SPECTRAL_CELLS = panel_cells(SPECTRAL_PANELS) if len(perturbation_variants(MAIN_STUDY)) > 1 else []


rule summarize_spectral_stability:
    input:
        code=script_code("summarize_spectral_stability.py"),
        draws=cell_paths(f"results/perturbation_spectral/{CELL}.csv", SPECTRAL_CELLS),
        stability=rules.summarize_stability.output.stability,
    output:
        stability="results/summary/stability_spectral.csv",
    params:
        cells=SPECTRAL_CELLS,
        threshold=config["stability"]["relative_error_threshold"],
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/summary/stability_spectral.log",
    script:
        "../scripts/summarize_spectral_stability.py"


rule summarize_memory:
    input:
        code=script_code("summarize_memory.py"),
        models=cell_paths(f"results/memory/models/{CELL}.csv"),
        targets=expand("results/memory/targets/{target}.csv", target=trained_targets()),
    output:
        table="results/summary/memory.csv",
    params:
        cells=grid_cells(),
        subjects=cell_paths(CELL),
        targets=trained_targets(),
        target_studies=[target_study(config, t) for t in trained_targets()],
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/summary/memory.log",
    script:
        "../scripts/summarize_memory.py"


# The gradient-over-weight ratio |g'(w)|/g(w)² and the stability margin per epoch of every trained model.
rule summarize_gradient_ratio:
    input:
        code=script_code("summarize_gradient_ratio.py"),
        histories=cell_paths(f"results/models/{CELL}/history.csv"),
        classification=[f"{run}/history.csv" for run in CLASSIFICATION_RUNS],
    output:
        table="results/summary/gradient_ratio.csv",
    params:
        cells=grid_cells(),
        classification_cells=CLASSIFICATION_CELLS,
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/summary/gradient_ratio.log",
    script:
        "../scripts/summarize_gradient_ratio.py"


# Figure 3's teacher filter, and its negative control: which teachers RNNs approximate stably.
if has_study(FIG3_STUDY):

    for _suffix, _root in SUMMARY_SETS.items():  # the teachers' table, and its negative control

        rule:
            name:
                f"teacher_filter{_suffix}"
            input:
                code=script_code("teacher_filter.py"),
                draws=cell_paths(f"{_root}/perturbation/{CELL}.csv", panel_cells(study_panels(FIG3_STUDY))),
                datasets=expand("results/targets/{target}.npz", target=FIG3_TEACHERS),
                memory=expand("results/memory/targets/{target}.csv", target=FIG3_TEACHERS),
            output:
                table=f"{_root}/summary/teachers.csv",
            params:
                cells=panel_cells(study_panels(FIG3_STUDY)),
                targets=FIG3_TEACHERS,
                evaluation={t: target_evaluation(t) for t in FIG3_TEACHERS},
                teacher_parameters={t: config["targets"][t]["parameters"] for t in FIG3_TEACHERS},
                threshold=config["stability"]["relative_error_threshold"],
                filter=config["stability"]["teacher_filter"],
            threads: 1
            resources:
                **LIGHT_JOB,
            conda:
                "../../envs/curse-of-memory.yaml"
            log:
                f"results/logs/summary/teachers{_suffix}.log",
            script:
                "../scripts/teacher_filter.py"


rule summaries:
    input:
        rules.summarize_perturbation.output,
        rules.summarize_stability.output,
        rules.summarize_spectral_stability.output if SPECTRAL_CELLS else [],
        rules.summarize_memory.output,
        rules.summarize_classification.output if CLASSIFICATION["enabled"] else [],
        rules.summarize_gradient_ratio.output,
        rules.summarize_worst_case.output if WORST_CASE_NORMS else [],
        rules.summarize_learning_rate.output if LEARNING_RATE["enabled"] else [],
