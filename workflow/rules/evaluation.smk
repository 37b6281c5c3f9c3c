# Stage 3: per family of trained models (one job per family and kind, one rule per trained study), the
# perturbation-error draws and the memory functions of every width; per target, its memory function
# queried from the functional itself.

for _study in study_grids(config):

    rule:
        name:
            f"perturbation_error_{_study}"
        input:
            code=package_code("models", "perturbation", "training", "targets", "artifacts", "runtime"),
            checkpoints=family_files(_study, f"results/models/{CELL}/model.pt"),
            dataset="results/targets/{target}.npz",
        output:
            draws=family_files(_study, f"results/perturbation/{CELL}.csv"),
        wildcard_constraints:
            target=study_target_pattern(_study),
        params:
            perturbation=family_settings(_study, cell_perturbation),
            loss_weight_power=family_settings(
                _study, lambda config, cell: cell_training(config, cell)["loss_weight_power"]
            ),
        threads: 1
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            f"results/logs/perturbation_error/{FAMILY}.log",
        benchmark:
            f"results/benchmarks/perturbation_error/{FAMILY}.tsv"
        script:
            "../scripts/perturbation_error.py"

    rule:
        name:
            f"model_memory_{_study}"
        input:
            code=package_code("memory", "models", "artifacts", "runtime"),
            checkpoints=family_files(_study, f"results/models/{CELL}/model.pt"),
        output:
            memory=family_files(_study, f"results/memory/models/{CELL}.csv"),
        wildcard_constraints:
            target=study_target_pattern(_study),
        params:
            memory=config["memory"],
        threads: 1
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            f"results/logs/model_memory/{FAMILY}.log",
        script:
            "../scripts/memory_function.py"


rule target_memory:
    input:
        code=package_code("memory", "targets", "artifacts", "runtime"),
        dataset="results/targets/{target}.npz",
    output:
        memory="results/memory/targets/{target}.csv",
    params:
        memory=config["memory"],
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/target_memory/{target}.log",
    script:
        "../scripts/memory_function.py"
