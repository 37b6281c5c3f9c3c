# Stage 5: figures. Every figure rule takes the shared style file as an input, so restyling reruns
# exactly the figures. Rule names are the target names: `snakemake fig7` builds Figure 7.


# Figures 7 and 8 from the draws at the configured norm; with `figures.spectral_norm` also from the main
# grid's second set of draws at spectral norm beta (Definition 3.4's block norm): fig7_spectral, fig8_spectral.
MAIN_FIGURES = {
    "fig7": (
        FIG7_PANELS,
        len(FIG7["parameterizations"]),
        f"Figure 7: {FIG7['activation']} RNN on the {FIG7['target']} target, "
        "without and with stable reparameterisation",
    ),
    "fig8": (
        FIG8_PANELS,
        len(FIG8["activations"]),
        f"Figure 8: {FIG8['parameterization']} reparameterisation with nonlinear activations "
        f"on the {FIG8['target']} target",
    ),
}

for _figure, (_panels, _columns, _title) in MAIN_FIGURES.items():
    for _suffix, _norm in perturbation_variants(MAIN_STUDY):

        rule:
            name:
                f"{_figure}{_suffix}"
            input:
                code=script_code("plot_perturbation.py"),
                draws=cell_paths(f"results/perturbation{_suffix}/{CELL}.csv", panel_cells(_panels)),
                style=FIGURE_STYLE,
            output:
                report_figure(f"{_figure}{_suffix}", f"Figure {_figure[3:]}"),
            params:
                cells=panel_cells(_panels),
                panels=_panels,
                columns=_columns,
                title=_title + (f" ({_norm} norm)" if _norm else ""),
            conda:
                "../../envs/curse-of-memory.yaml"
            log:
                f"results/logs/figures/{_figure}{_suffix}.log",
            script:
                "../scripts/plot_perturbation.py"


rule perturbation_grid:
    input:
        code=script_code("plot_perturbation.py"),
        draws=lambda wildcards: cell_paths(
            f"results/perturbation/{CELL}.csv", panel_cells(grid_panels(wildcards))
        ),
        style=FIGURE_STYLE,
    output:
        [
            report(f, caption="../../results/report/captions/perturbation_grid.rst", category="Main grid")
            if f.endswith(".png")
            else f
            for f in expand("results/figures/perturbation_{{target}}.{fmt}", fmt=config["figures"]["formats"])
        ],
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
        code=script_code("plot_memory.py"),
        memory="results/summary/memory.csv",
        style=FIGURE_STYLE,
    output:
        report_figure("memory_trained", "Main grid"),
    params:
        width=max(config["grid"]["widths"]),
        study=MAIN_STUDY,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/figures/memory_trained.log",
    script:
        "../scripts/plot_memory.py"


rule stability_figure:
    input:
        code=script_code("plot_stability.py"),
        stability="results/summary/stability.csv",
        style=FIGURE_STYLE,
    output:
        report_figure("stability_vs_width", "Main grid"),
    params:
        study=MAIN_STUDY,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/figures/stability_vs_width.log",
    script:
        "../scripts/plot_stability.py"


if LSTSQ:

    rule fig1:
        input:
            code=script_code("plot_perturbation.py"),
            table="results/lstsq/perturbation.csv",
            style=FIGURE_STYLE,
        output:
            report_figure("fig1", "Figure 1"),
        params:
            panels=FIG1_PANELS,
            columns=len(FIG1_PANELS),
            title="Figure 1: linear RNNs fitted by least squares, (a) exponential and (b) polynomial memory",
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            "results/logs/figures/fig1.log",
        script:
            "../scripts/plot_perturbation.py"

    rule fig4:
        input:
            code=script_code("plot_perturbation.py"),
            table="results/lstsq/perturbation.csv",
            style=FIGURE_STYLE,
        output:
            report_figure("fig4", "Figure 4"),
        params:
            panels=FIG4_PANELS,
            columns=len(FIG4_PANELS),
            title=f"Figure 4: Figure 1b with stable reparameterisation of the rates ({FIG4['target']})",
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            "results/logs/figures/fig4.log",
        script:
            "../scripts/plot_perturbation.py"


for _figure, _study, _title in [
    ("fig2", config["figures"]["fig2"]["study"], "Figure 2: a nonlinear functional with polynomial memory, tanh RNNs"),
    ("fig12", config["figures"]["fig12"]["study"], "Figure 12: a random causal transformer teacher, RNN students"),
]:
    if not has_study(_study):
        continue
    _panels = [p for p in study_panels(_study) if p["target"] == study_grids(config)[_study]["targets"][0]]

    rule:
        name:
            _figure
        input:
            code=script_code("plot_study.py"),
            draws=cell_paths(f"results/perturbation/{CELL}.csv", panel_cells(_panels)),
            memory=f"results/memory/targets/{_panels[0]['target']}.csv",
            style=FIGURE_STYLE,
        output:
            report_figure(_figure, f"Figure {_figure[3:]}"),
        params:
            cells=panel_cells(_panels),
            panels=_panels,
            title=_title,
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            f"results/logs/figures/{_figure}.log",
        script:
            "../scripts/plot_study.py"


if has_study(FIG3_STUDY):

    for _suffix, _root in SUMMARY_SETS.items():  # the teachers' table, and its negative control

        rule:
            name:
                f"teacher_filter{_suffix}"
            input:
                code=script_code("teacher_filter.py"),
                draws=cell_paths(f"{_root}/perturbation/{CELL}.csv", panel_cells(study_panels(FIG3_STUDY))),
                datasets=expand("results/targets/{target}.npz", target=FIG3_TEACHERS),
                memory=expand("results/memory/targets/{target}.csv", target=FIG3_TEACHERS),
            output:
                table=f"{_root}/summary/teachers.csv",
            params:
                cells=panel_cells(study_panels(FIG3_STUDY)),
                targets=FIG3_TEACHERS,
                evaluation={t: target_evaluation(t) for t in FIG3_TEACHERS},
                teacher_parameters={t: config["targets"][t]["parameters"] for t in FIG3_TEACHERS},
                threshold=config["stability"]["relative_error_threshold"],
                filter=config["stability"]["teacher_filter"],
            conda:
                "../../envs/curse-of-memory.yaml"
            log:
                f"results/logs/summary/teachers{_suffix}.log",
            script:
                "../scripts/teacher_filter.py"

    rule fig3:
        input:
            code=script_code("plot_teachers.py"),
            teachers=rules.teacher_filter.output.table,
            draws=cell_paths(f"results/perturbation/{CELL}.csv", panel_cells(study_panels(FIG3_STUDY))),
            memory=expand("results/memory/targets/{target}.csv", target=FIG3_TEACHERS),
            style=FIGURE_STYLE,
        output:
            report_figure("fig3", "Figure 3"),
        params:
            cells=panel_cells(study_panels(FIG3_STUDY)),
            targets=FIG3_TEACHERS,
            title="Figure 3: teacher filtering -- the teachers RNNs approximate stably have exponential memory",
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            "results/logs/figures/fig3.log",
        script:
            "../scripts/plot_teachers.py"


rule fig10:
    input:
        code=script_code("plot_memory_definitions.py"),
        curves=rules.memory_definitions.output.curves,
        agreement=rules.memory_definitions.output.agreement,
        style=FIGURE_STYLE,
    output:
        report_figure("fig10", "Figure 10"),
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/figures/fig10.log",
    script:
        "../scripts/plot_memory_definitions.py"


rule fig11:
    input:
        code=script_code("plot_nondecaying.py"),
        memory=rules.nondecaying_memory.output.memory,
        style=FIGURE_STYLE,
    output:
        report_figure("fig11", "Figure 11"),
    params:
        weights=config["nondecaying_memory"]["weights"],
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/figures/fig11.log",
    script:
        "../scripts/plot_nondecaying.py"


rule figures:
    input:
        [path for name in PAPER_FIGURES for path in figure_files(name)],
        [figure_files(f"{name}{suffix}") for name in MAIN_FIGURES for suffix, _ in perturbation_variants(MAIN_STUDY)],
        expand(
            "results/figures/perturbation_{target}.{fmt}",
            target=config["grid"]["targets"],
            fmt=config["figures"]["formats"],
        ),
        rules.memory_figure.output,
        rules.stability_figure.output,
