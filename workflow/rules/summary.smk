# Stage 4: tidy tables over the whole grid (names and columns are a public interface; see README).


rule summarize_perturbation:
    input:
        code=package_code("summary", "artifacts", "runtime"),
        draws=cell_paths(f"results/perturbation/{CELL}.csv"),
    output:
        table="results/summary/perturbation.csv",
    params:
        cells=grid_cells(),
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/summary/perturbation.log",
    script:
        "../scripts/summarize_perturbation.py"


rule summarize_stability:
    input:
        code=package_code("summary", "stability", "targets", "training", "artifacts", "runtime"),
        perturbation="results/summary/perturbation.csv",
        metrics=cell_paths(f"results/models/{CELL}/metrics.json"),
        datasets=expand("results/targets/{target}.npz", target=config["grid"]["targets"]),
    output:
        stability="results/summary/stability.csv",
        crossings="results/summary/crossings.csv",
    params:
        cells=grid_cells(),
        targets=config["grid"]["targets"],
        evaluation_size=config["perturbation"]["evaluation_size"],
        loss_weight_power=config["training"]["loss_weight_power"],
        threshold=config["stability"]["relative_error_threshold"],
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/summary/stability.log",
    script:
        "../scripts/summarize_stability.py"


rule summarize_memory:
    input:
        code=package_code("artifacts", "runtime"),
        models=cell_paths(f"results/memory/models/{CELL}.csv"),
        targets=expand("results/memory/targets/{target}.csv", target=config["grid"]["targets"]),
    output:
        table="results/summary/memory.csv",
    params:
        cells=grid_cells(),
        subjects=cell_paths(CELL),
        targets=config["grid"]["targets"],
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/summary/memory.log",
    script:
        "../scripts/summarize_memory.py"


rule summaries:
    input:
        rules.summarize_perturbation.output,
        rules.summarize_stability.output,
        rules.summarize_memory.output,
