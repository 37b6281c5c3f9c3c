# Beyond the paper: the learning-rate stability sweep, one job per (target, parameterization, seed) of
# `learning_rate_stability` (every width at every learning rate), then one table of every run.

LEARNING_RATE = config["learning_rate_stability"]
LEARNING_RATE_SWEEPS = [
    f"results/learning_rate/{target}/{parameterization}/seed{seed}.csv"
    for target in LEARNING_RATE["targets"]
    for parameterization in LEARNING_RATE["parameterizations"]
    for seed in LEARNING_RATE["seeds"]
]


if LEARNING_RATE["enabled"]:

    rule learning_rate_sweep:
        input:
            code=script_code("learning_rate_sweep.py"),
            dataset="results/targets/{target}.npz",
        output:
            sweep="results/learning_rate/{target}/{parameterization}/seed{seed}.csv",
        params:
            section=LEARNING_RATE,
            training=merged(config["training"], LEARNING_RATE["training"]),
            dt=lambda wildcards: target_data(config, wildcards.target)["dt"],
        threads: training_threads()
        resources:
            **torch_job_request(learning_rate_estimate),
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            "results/logs/learning_rate/{target}/{parameterization}/seed{seed}.log",
        benchmark:
            "results/benchmarks/learning_rate/{target}/{parameterization}/seed{seed}.tsv"
        script:
            "../scripts/learning_rate_sweep.py"


    rule summarize_learning_rate:
        input:
            code=script_code("summarize_learning_rate.py"),
            sweeps=LEARNING_RATE_SWEEPS,
        output:
            table="results/summary/learning_rate_stability.csv",
            largest="results/summary/largest_stable_learning_rate.csv",
            markdown="results/summary/largest_stable_learning_rate.md",
        threads: 1
        resources:
            **LIGHT_JOB,
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            "results/logs/summary/learning_rate.log",
        script:
            "../scripts/summarize_learning_rate.py"
