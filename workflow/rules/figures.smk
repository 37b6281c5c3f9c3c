# Stage 5: figures. Every figure rule takes the shared style file as an input, so restyling reruns
# exactly the figures. Rule names are the target names: `snakemake fig7` builds Figure 7.

FIGURE_STYLE = config["figures"]["style"]
FIG7 = config["figures"]["fig7"]
FIG8 = config["figures"]["fig8"]


rule fig7:
    input:
        perturbation="results/summary/perturbation.csv",
        crossings="results/summary/crossings.csv",
        style=FIGURE_STYLE,
    output:
        figure_files("fig7"),
    params:
        panels=[panel(FIG7["target"], FIG7["activation"], p) for p in FIG7["parameterizations"]],
        columns=len(FIG7["parameterizations"]),
        title=f"Figure 7: {FIG7['activation']} RNN on the {FIG7['target']} target, "
        "without and with stable reparameterisation",
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/figures/fig7.log",
    script:
        "../scripts/plot_perturbation.py"


rule fig8:
    input:
        perturbation="results/summary/perturbation.csv",
        crossings="results/summary/crossings.csv",
        style=FIGURE_STYLE,
    output:
        figure_files("fig8"),
    params:
        panels=[panel(FIG8["target"], a, FIG8["parameterization"]) for a in FIG8["activations"]],
        columns=len(FIG8["activations"]),
        title=f"Figure 8: {FIG8['parameterization']} reparameterisation with nonlinear activations "
        f"on the {FIG8['target']} target",
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/figures/fig8.log",
    script:
        "../scripts/plot_perturbation.py"


rule perturbation_grid:
    input:
        perturbation="results/summary/perturbation.csv",
        crossings="results/summary/crossings.csv",
        style=FIGURE_STYLE,
    output:
        expand("results/figures/perturbation_{{target}}.{fmt}", fmt=config["figures"]["formats"]),
    params:
        panels=lambda wildcards: [
            panel(wildcards.target, a, p)
            for a in config["grid"]["activations"]
            for p in config["grid"]["parameterizations"]
        ],
        columns=len(config["grid"]["parameterizations"]),
        title=lambda wildcards: f"Perturbation error E_m(beta), {wildcards.target} target",
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/figures/perturbation_{target}.log",
    script:
        "../scripts/plot_perturbation.py"


rule memory_figure:
    input:
        memory="results/summary/memory.csv",
        style=FIGURE_STYLE,
    output:
        figure_files("memory_trained"),
    params:
        width=max(config["grid"]["widths"]),
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/figures/memory_trained.log",
    script:
        "../scripts/plot_memory.py"


rule stability_figure:
    input:
        stability="results/summary/stability.csv",
        style=FIGURE_STYLE,
    output:
        figure_files("stability_vs_width"),
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/figures/stability_vs_width.log",
    script:
        "../scripts/plot_stability.py"


rule figures:
    input:
        rules.fig7.output,
        rules.fig8.output,
        expand(
            "results/figures/perturbation_{target}.{fmt}",
            target=config["grid"]["targets"],
            fmt=config["figures"]["formats"],
        ),
        rules.memory_figure.output,
        rules.stability_figure.output,
