# Stage 3: the perturbation-error draws of every width of a family (one job per family, one rule per
# trained study; for the main grid with `figures.spectral_norm`, or a worst-case norm other than the
# configured one, a second set at that norm in results/perturbation_<norm>/; with
# `claims.controls.initialization` the same draws for the family's models at initialisation, in
# results/controls/perturbation/) and the memory functions of every trained model of a study (one job per
# study); per target, its memory function queried from the functional itself.

for _study in study_grids(config):

    for _suffix, _norm in draws_variants(_study):

        rule:
            name:
                f"perturbation_error{_suffix}_{_study}"
            input:
                code=script_code("perturbation_error.py"),
                checkpoints=family_files(_study, f"results/models/{CELL}/model.pt"),
                dataset="results/targets/{target}.npz",
            output:
                draws=family_files(_study, f"results/perturbation{_suffix}/{CELL}.csv"),
                # the claims' negative control: the same models at initialisation (with the configured norm)
                controls=family_files(_study, f"results/controls/perturbation/{CELL}.csv")
                if CONTROLS and not _suffix
                else [],
            wildcard_constraints:
                target=study_target_pattern(_study),
            params:
                widths=family_widths(_study),
                dt=lambda wildcards: target_data(config, wildcards.target)["dt"],  # as rule train_<study>
                perturbation=family_settings(
                    _study, lambda config, cell, norm=_norm: cell_perturbation(config, cell, norm)
                ),
                loss_weight_power=family_settings(
                    _study, lambda config, cell: cell_training(config, cell)["loss_weight_power"]
                ),
                device=config["training"]["device"],  # CUDA where the job has it, as rule train_<study>
            threads: training_threads()
            resources:
                **torch_job_request(perturbation_estimate(_study, controls=bool(CONTROLS and not _suffix))),
            conda:
                "../../envs/curse-of-memory.yaml"
            log:
                f"results/logs/perturbation_error{_suffix}/{FAMILY}.log",
            benchmark:
                f"results/benchmarks/perturbation_error{_suffix}/{FAMILY}.tsv"
            script:
                "../scripts/perturbation_error.py"

    # Memory functions take milliseconds per model: one job for the whole study, so that process start-up
    # is paid once (a retrained family reruns it, in seconds).
    rule:
        name:
            f"model_memory_{_study}"
        input:
            code=script_code("memory_function.py"),
            checkpoints=cell_paths(f"results/models/{CELL}/model.pt", grid_cells(_study)),
        output:
            memory=cell_paths(f"results/memory/models/{CELL}.csv", grid_cells(_study)),
        params:
            memory=config["memory"],
        threads: 1
        resources:
            **LIGHT_JOB,
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            f"results/logs/model_memory/{_study}.log",
        script:
            "../scripts/memory_function.py"


rule target_memory:
    input:
        code=script_code("memory_function.py"),
        dataset="results/targets/{target}.npz",
    output:
        memory="results/memory/targets/{target}.csv",
    params:
        memory=config["memory"],
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/target_memory/{target}.log",
    script:
        "../scripts/memory_function.py"
