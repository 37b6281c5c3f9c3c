# curse-of-memory: reproduces Wang, Li & Li, "Inverse Approximation Theory for Nonlinear Recurrent
# Neural Networks" (ICLR 2024). `snakemake --cores all` builds every figure and table of the configured
# preset; `snakemake fig7` (or any results path) builds one. See README.md.

configfile: "config.yaml"


include: "workflow/rules/common.smk"
# Wildcards never cross a path separator; widths and seeds are integers.
wildcard_constraints:
    target=r"[A-Za-z0-9_\-]+",
    activation=r"[A-Za-z0-9_]+",
    parameterization=r"[A-Za-z0-9_]+",
    width=r"\d+",
    seed=r"\d+",
    fmt=r"pdf|png|svg",


include: "workflow/rules/targets.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/worst_case.smk"
include: "workflow/rules/learning_rate.smk"
include: "workflow/rules/lstsq.smk"
include: "workflow/rules/memory_studies.smk"
include: "workflow/rules/classification.smk"
include: "workflow/rules/summary.smk"
include: "workflow/rules/figure_registry.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


# `snakemake --report results/report.html` after a run: generated front page and captions (rule report_pages).
report: "results/report/workflow.rst"


rule all:
    input:
        rules.summaries.input,
        rules.figures.input,
        rules.report_inputs.input,
    default_target: True


# Targets that only gather files run no code: they need no resources and never go to a cluster.
localrules:
    all,
    figures,
    summaries,
    report_inputs,
