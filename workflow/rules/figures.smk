# Stage 5: figures, one rule per entry of FIGURES (figure_registry.smk). Every figure rule takes the shared
# style file as an input, so restyling reruns exactly the figures. Rule names are the target names:
# `snakemake fig7` builds Figure 7.


def figure_rule(figure):
    """The rule of one registry entry; a function, so that its directives (the script's path is evaluated
    again when the job runs) see this entry, not the loop's last one. Snakemake records the directive's text
    (the same for every figure), so the script is an input too: editing it reruns exactly its figures."""

    rule:
        name:
            figure.name
        input:
            script=f"workflow/scripts/{figure.script}",  # this rule's record names no script (see above)
            code=script_code(figure.script),
            style=FIGURE_STYLE,
            **figure.inputs,
        output:
            report_figure(figure.file_stem, figure.category, figure.name),
        params:
            **figure.params,
        threads: 1
        resources:
            **LIGHT_JOB,
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            f"results/logs/figures/{figure.file_stem}.log",
        script:
            f"../scripts/{figure.script}"


for _figure in FIGURES:
    figure_rule(_figure)
