# Stage 2: one training job per grid cell.


def previous_width_metrics(wildcards):
    """With chained early stopping, the next-smaller width's metrics (its loss sets the stop level)."""
    if not config["training"]["chained_early_stopping"]["enabled"]:
        return []
    smaller = [w for w in sorted(config["grid"]["widths"]) if w < int(wildcards.width)]
    if not smaller:
        return []
    cell = {**dict(wildcards.items()), "width": smaller[-1]}
    return f"results/models/{CELL.format(**cell)}/metrics.json"


rule train:
    input:
        dataset="results/targets/{target}.npz",
        previous=previous_width_metrics,
    output:
        checkpoint=f"results/models/{CELL}/model.pt",
        metrics=f"results/models/{CELL}/metrics.json",
        history=f"results/models/{CELL}/history.csv",
    params:
        training=config["training"],
        dt=config["data"]["dt"],
    threads: training_threads()
    resources:
        gpu=1 if uses_gpu() else 0,
    log:
        f"results/logs/train/{CELL}.log",
    script:
        "../scripts/train.py"
