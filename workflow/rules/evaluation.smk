# Stage 3: per trained model, the perturbation-error draws and the memory functions; per target, its
# memory function queried from the functional itself.


rule perturbation_error:
    input:
        code=package_code("models", "perturbation", "training", "targets", "artifacts", "runtime"),
        checkpoint=f"results/models/{CELL}/model.pt",
        dataset="results/targets/{target}.npz",
    output:
        draws=f"results/perturbation/{CELL}.csv",
    params:
        perturbation=perturbation_settings,
        loss_weight_power=lambda wildcards: training_settings(wildcards)["loss_weight_power"],
    threads: 1
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        f"results/logs/perturbation_error/{CELL}.log",
    benchmark:
        f"results/benchmarks/perturbation_error/{CELL}.tsv"
    script:
        "../scripts/perturbation_error.py"


rule model_memory:
    input:
        code=package_code("memory", "models", "artifacts", "runtime"),
        checkpoint=f"results/models/{CELL}/model.pt",
    output:
        memory=f"results/memory/models/{CELL}.csv",
    params:
        memory=config["memory"],
    threads: 1
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        f"results/logs/model_memory/{CELL}.log",
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
