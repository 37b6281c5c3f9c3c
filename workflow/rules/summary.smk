# Stage 4: tidy tables over every study (names and columns are a public interface; see README).

LSTSQ = bool(config["lstsq"]["targets"])
LSTSQ_DRAWS = ["results/lstsq/perturbation.csv"] if LSTSQ else []
LSTSQ_FITS = ["results/lstsq/fits.csv"] if LSTSQ else []


rule summarize_perturbation:
    input:
        code=package_code("summary", "artifacts", "runtime"),
        draws=cell_paths(f"results/perturbation/{CELL}.csv"),
        lstsq=LSTSQ_DRAWS,
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
        datasets=expand("results/targets/{target}.npz", target=trained_targets()),
        lstsq=LSTSQ_FITS,
    output:
        stability="results/summary/stability.csv",
        crossings="results/summary/crossings.csv",
    params:
        cells=grid_cells(),
        targets=trained_targets(),
        # each target's zero-predictor error uses its own study's evaluation set and loss
        evaluation={t: target_evaluation(t) for t in trained_targets()},
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
        targets=expand("results/memory/targets/{target}.csv", target=trained_targets()),
    output:
        table="results/summary/memory.csv",
    params:
        cells=grid_cells(),
        subjects=cell_paths(CELL),
        targets=trained_targets(),
        target_studies=[target_study(config, t) for t in trained_targets()],
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
