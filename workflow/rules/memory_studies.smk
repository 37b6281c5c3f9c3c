# Memory studies without training (Figures 10 and 11): memory functions of randomly initialised models.


rule memory_definitions:
    input:
        code=script_code("memory_definitions.py"),
    output:
        curves="results/memory/definitions.csv",
        agreement="results/summary/memory_definitions.csv",
    params:
        settings=config["memory_definitions"],
        memory=config["memory"],
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/memory_studies/memory_definitions.log",
    benchmark:
        "results/benchmarks/memory_studies/memory_definitions.tsv"
    script:
        "../scripts/memory_definitions.py"


rule nondecaying_memory:
    input:
        code=script_code("nondecaying_memory.py"),
    output:
        memory="results/memory/nondecaying.csv",
    params:
        settings=config["nondecaying_memory"],
        memory=config["memory"],
    threads: 1
    resources:
        **LIGHT_JOB,
    conda:
        "../../envs/curse-of-memory.yaml"
    log:
        "results/logs/memory_studies/nondecaying_memory.log",
    script:
        "../scripts/nondecaying_memory.py"
