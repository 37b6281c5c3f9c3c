# Stage 2: one training job per grid cell.


rule train:
    input:
        code=package_code("models", "training", "targets", "artifacts", "runtime"),
        dataset="results/targets/{target}.npz",
        previous=previous_width_metrics,
    output:
        checkpoint=f"results/models/{CELL}/model.pt",
        metrics=f"results/models/{CELL}/metrics.json",
        history=f"results/models/{CELL}/history.csv",
    params:
        training=training_settings,
        dt=config["data"]["dt"],
    threads: training_threads()
    resources:
        gpu=1 if uses_gpu() else 0,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        f"results/logs/train/{CELL}.log",
    benchmark:
        f"results/benchmarks/train/{CELL}.tsv"
    script:
        "../scripts/train.py"
