# Stage 6: the paper's claims checked in numbers, the stability summary figure, and the pages of
# `snakemake --report results/report.html` (front page with the claims table, runtimes and config;
# one caption per figure with the paper's claim and this run's finding; runtimes per rule as a table).

FAMILIES = list(dict.fromkeys(FAMILY.format(**cell) for cell in grid_cells()))
BENCHMARKS = {
    "train": [f"results/benchmarks/train/{family}.tsv" for family in FAMILIES],
    "perturbation_error": [f"results/benchmarks/perturbation_error/{family}.tsv" for family in FAMILIES],
    "least_squares": ["results/benchmarks/lstsq/least_squares.tsv"] if LSTSQ else [],
    "memory_definitions": ["results/benchmarks/memory_studies/memory_definitions.tsv"],
    "worst_case": [
        f"results/benchmarks/worst_case/{norm}/{family}.tsv"
        for norm in WORST_CASE_NORMS
        for family in dict.fromkeys(FAMILY.format(**cell) for cell in grid_cells(MAIN_STUDY))
    ],
    "learning_rate_sweep": [
        path.replace("results/learning_rate/", "results/benchmarks/learning_rate/").replace(".csv", ".tsv")
        for path in LEARNING_RATE_SWEEPS
    ]
    if LEARNING_RATE["enabled"]
    else [],
    "fit_classifier": [
        "results/benchmarks/classification/{parameterization}/width{width}_seed{seed}.tsv".format(**cell)
        for cell in CLASSIFICATION_CELLS
    ],
}
# report figure -> its caption and the figure labels of its claims (results/claims.csv `figure` column)
REPORT_FIGURES = {figure.name: {**figure.caption, "claims": list(figure.claims)} for figure in FIGURES}


# every figure of the registry (`snakemake figures`)
rule figures:
    input:
        [
            path
            for figure in FIGURES
            for path in expand(
                f"results/figures/{figure.file_stem}.{{fmt}}",
                fmt=config["figures"]["formats"],
                **figure.wildcards,
            )
        ],


TEACHER_TABLES = {root: [f"{root}/summary/teachers.csv"] if has_study(FIG3_STUDY) else [] for root in SUMMARY_SETS.values()}


rule claims:
    input:
        code=script_code("claims.py"),
        stability="results/summary/stability.csv",
        crossings="results/summary/crossings.csv",
        definitions=rules.memory_definitions.output.agreement,
        nondecaying=rules.nondecaying_memory.output.memory,
        teachers=TEACHER_TABLES["results"],
        control_stability=["results/controls/summary/stability.csv"] if CONTROLS else [],
        control_crossings=["results/controls/summary/crossings.csv"] if CONTROLS else [],
        control_teachers=TEACHER_TABLES.get("results/controls", []),
        classification=[rules.summarize_classification.output.history] if CLASSIFICATION["enabled"] else [],
        worst_case_stability=[rules.summarize_worst_case.output.stability] if WORST_CASE_NORMS else [],
        worst_case_crossings=[rules.summarize_worst_case.output.crossings] if WORST_CASE_NORMS else [],
        learning_rate=[rules.summarize_learning_rate.output.largest] if LEARNING_RATE["enabled"] else [],
    output:
        table="results/claims.csv",
        markdown="results/claims.md",
        controls=["results/controls/claims.csv"] if CONTROLS else [],
    params:
        worst_case_norm=WORST_CASE_CLAIM_NORM,
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/report/claims.log",
    script:
        "../scripts/claims.py"


rule runtimes:
    input:
        code=script_code("runtimes.py"),
        **BENCHMARKS,
    output:
        # with the benchmarks: timings differ between runs, every other table is byte-reproducible
        table=report("results/benchmarks/runtimes.csv", caption="../report/runtimes.rst", category="Runtimes"),
    params:
        rules=[rule for rule, paths in BENCHMARKS.items() if paths],
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/report/runtimes.log",
    script:
        "../scripts/runtimes.py"


rule report_pages:
    input:
        code=script_code("report_pages.py"),
        claims=rules.claims.output.table,
        classification_test=[rules.summarize_classification.output.test] if CLASSIFICATION["enabled"] else [],
    output:
        front="results/report/workflow.rst",
        captions=expand("results/report/captions/{name}.rst", name=list(REPORT_FIGURES)),
    params:
        figures=REPORT_FIGURES,
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/report/report_pages.log",
    script:
        "../scripts/report_pages.py"


rule report_inputs:
    input:
        rules.claims.output,
        rules.runtimes.output,
        rules.stability_summary.output,
        rules.report_pages.output,
        ["results/results.md"] if LSTSQ else [],  # the comparison page needs the least-squares study


rule results_page:
    input:
        code=script_code("results_page.py"),
        constructions=rules.least_squares.output.constructions,
        stability="results/summary/stability.csv",
        crossings="results/summary/crossings.csv",
        claims=rules.claims.output.table,
        spectral=rules.summarize_spectral_stability.output if SPECTRAL_CELLS else [],
        classification_test=[rules.summarize_classification.output.test] if CLASSIFICATION["enabled"] else [],
        worst_case=[rules.summarize_worst_case.output.stability] if WORST_CASE_NORMS else [],
        learning_rate_table=[rules.summarize_learning_rate.output.markdown] if LEARNING_RATE["enabled"] else [],
    output:
        page="results/results.md",
    params:
        lstsq=config["lstsq"],
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/report/results_page.log",
    script:
        "../scripts/results_page.py"
