# Stage 1: the targets' data sets (seeded inputs, FFT-convolved outputs, rho on the time grid).


rule make_target:
    input:
        code=script_code("make_target.py"),
    output:
        dataset="results/targets/{target}.npz",
    params:
        target=lambda wildcards: config["targets"][wildcards.target],
        data=lambda wildcards: target_data(config, wildcards.target),
    threads: 1
    resources:
        **job_request(target_estimate),
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/make_target/{target}.log",
    script:
        "../scripts/make_target.py"
