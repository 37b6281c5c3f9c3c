# Stage 5: figures. Every figure rule takes the shared style file as an input, so restyling reruns
# exactly the figures. Rule names are the target names: `snakemake fig7` builds Figure 7.


rule fig7:
    input:
        code=package_code("figures", "summary", "stability", "artifacts", "runtime"),
        draws=cell_paths(f"results/perturbation/{CELL}.csv", panel_cells(FIG7_PANELS)),
        style=FIGURE_STYLE,
    output:
        figure_files("fig7"),
    params:
        cells=panel_cells(FIG7_PANELS),
        panels=FIG7_PANELS,
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
        code=package_code("figures", "summary", "stability", "artifacts", "runtime"),
        draws=cell_paths(f"results/perturbation/{CELL}.csv", panel_cells(FIG8_PANELS)),
        style=FIGURE_STYLE,
    output:
        figure_files("fig8"),
    params:
        cells=panel_cells(FIG8_PANELS),
        panels=FIG8_PANELS,
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
        code=package_code("figures", "summary", "stability", "artifacts", "runtime"),
        draws=lambda wildcards: cell_paths(
            f"results/perturbation/{CELL}.csv", panel_cells(grid_panels(wildcards))
        ),
        style=FIGURE_STYLE,
    output:
        expand("results/figures/perturbation_{{target}}.{fmt}", fmt=config["figures"]["formats"]),
    params:
        cells=lambda wildcards: panel_cells(grid_panels(wildcards)),
        panels=grid_panels,
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
        code=package_code("figures", "artifacts", "runtime"),
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
        code=package_code("figures", "artifacts", "runtime"),
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
