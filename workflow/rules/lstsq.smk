# Figures 1 and 4's study: linear RNN kernels fitted by least squares (no training), then perturbed.
# One job, seconds: every target x width fit and every (parameterization, beta, draw) error, and the
# crossing points of every construction (fit x perturbed blocks) side by side; with the claims' negative
# controls, the same draws for the kernels before fitting.


rule least_squares:
    input:
        code=script_code("least_squares.py"),
    output:
        draws="results/lstsq/perturbation.csv",
        fits="results/lstsq/fits.csv",
        constructions="results/lstsq/constructions.csv",
        controls=["results/controls/lstsq/perturbation.csv"] if CONTROLS else [],
    params:
        lstsq=config["lstsq"],
        targets={t: config["targets"][t] for t in config["lstsq"]["targets"]},
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/lstsq/least_squares.log",
    benchmark:
        "results/benchmarks/lstsq/least_squares.tsv"
    script:
        "../scripts/least_squares.py"
