# Figure 9 and Table 1 (the paper's Appendix E): digits classified pixel by pixel, one training job per
# (parameterization, width, seed), every parameterization of a seed started from the same weights.

rule classification_data:
    input:
        code=script_code("classification_data.py"),
        idx=classification_files,
    output:
        dataset="results/classification/data.npz",
    params:
        dataset=CLASSIFICATION["dataset"],
        idx=CLASSIFICATION["idx"],
        sizes=CLASSIFICATION["sizes"],
        seed=CLASSIFICATION["split_seed"],
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/classification/data.log",
    script:
        "../scripts/classification_data.py"


rule fit_classifier:
    input:
        code=script_code("fit_classifier.py"),
        dataset=rules.classification_data.output.dataset,
    output:
        history=f"{CLASSIFICATION_RUN}/history.csv",
        test=f"{CLASSIFICATION_RUN}/test.json",
        checkpoint=f"{CLASSIFICATION_RUN}/model.pt",
    params:
        settings={key: CLASSIFICATION[key] for key in CLASSIFICATION_SETTINGS},
        device=config["training"]["device"],
    threads: training_threads()
    resources:
        **torch_job_request(classifier_estimate),
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/classification/{parameterization}/width{width}_seed{seed}.log",
    benchmark:
        "results/benchmarks/classification/{parameterization}/width{width}_seed{seed}.tsv"
    script:
        "../scripts/fit_classifier.py"


rule summarize_classification:
    input:
        code=script_code("summarize_classification.py"),
        dataset=rules.classification_data.output.dataset,
        histories=[f"{run}/history.csv" for run in CLASSIFICATION_RUNS],
        tests=[f"{run}/test.json" for run in CLASSIFICATION_RUNS],
    output:
        history="results/summary/classification.csv",
        test="results/summary/classification_test.csv",
        table="results/summary/classification_table.md",
    params:
        cells=CLASSIFICATION_CELLS,
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/summary/classification.log",
    script:
        "../scripts/summarize_classification.py"
