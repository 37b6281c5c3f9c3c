# Beyond the paper, stage 3b: the worst-case perturbation error of every model of the main grid (one job
# per family and norm of `worst_case.norms`), climbed by projected gradient ascent from its random draws,
# then gathered with the stability radii and crossings read off it.

for _norm in WORST_CASE_NORMS:

    rule:
        name:
            f"worst_case_{_norm}"
        input:
            code=script_code("worst_case.py"),
            checkpoints=family_files(MAIN_STUDY, f"results/models/{CELL}/model.pt"),
            draws=family_files(MAIN_STUDY, f"results/perturbation{draws_suffix(_norm)}/{CELL}.csv"),
            dataset="results/targets/{target}.npz",
        output:
            worst_case=family_files(MAIN_STUDY, f"results/worst_case/{_norm}/{CELL}.csv"),
        wildcard_constraints:
            target=study_target_pattern(MAIN_STUDY),
        params:
            norm=_norm,
            perturbation=config["perturbation"],
            loss_weight_power=family_settings(
                MAIN_STUDY, lambda config, cell: cell_training(config, cell)["loss_weight_power"]
            ),
            worst_case=WORST_CASE,
            traced_values=job_resources.ASCENT_TRACED_VALUES,
        threads: training_threads()
        resources:
            **job_request(worst_case_estimate),
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            f"results/logs/worst_case/{_norm}/{FAMILY}.log",
        benchmark:
            f"results/benchmarks/worst_case/{_norm}/{FAMILY}.tsv"
        script:
            "../scripts/worst_case.py"


if WORST_CASE_NORMS:

    rule summarize_worst_case:
        input:
            code=script_code("summarize_worst_case.py"),
            worst_case=[
                path
                for norm in WORST_CASE_NORMS
                for path in cell_paths(f"results/worst_case/{norm}/{CELL}.csv", grid_cells(MAIN_STUDY))
            ],
            datasets=expand("results/targets/{target}.npz", target=config["grid"]["targets"]),
            metrics=cell_paths(f"results/models/{CELL}/metrics.json", grid_cells(MAIN_STUDY)),
        output:
            table="results/summary/worst_case.csv",
            stability="results/summary/stability_worst_case.csv",
            crossings="results/summary/crossings_worst_case.csv",
        params:
            cells=[{**cell, "norm": norm} for norm in WORST_CASE_NORMS for cell in grid_cells(MAIN_STUDY)],
            model_cells=grid_cells(MAIN_STUDY),
            targets=config["grid"]["targets"],
            evaluation={t: target_evaluation(t) for t in config["grid"]["targets"]},
            threshold=config["stability"]["relative_error_threshold"],
        threads: 1
        resources:
            **LIGHT_JOB,
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            "results/logs/summary/worst_case.log",
        script:
            "../scripts/summarize_worst_case.py"
