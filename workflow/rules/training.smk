# Stage 2: training, one job per family (every width of one target x activation x parameterization x
# seed, in increasing width: the chained early stopping reads each width's predecessor). One rule per
# trained study, since a study's widths fix the job's outputs.

for _study in study_grids(config):

    rule:
        name:
            f"train_{_study}"
        input:
            code=script_code("train.py"),
            dataset="results/targets/{target}.npz",
        output:
            checkpoint=family_files(_study, f"results/models/{CELL}/model.pt"),
            metrics=family_files(_study, f"results/models/{CELL}/metrics.json"),
            history=family_files(_study, f"results/models/{CELL}/history.csv"),
        wildcard_constraints:
            target=study_target_pattern(_study),
        params:
            widths=family_widths(_study),
            training=family_settings(_study, cell_training),
            dt=lambda wildcards: target_data(config, wildcards.target)["dt"],  # the target's own time step
        threads: training_threads()
        resources:
            **torch_job_request(training_estimate(_study)),
        conda:
            "../../envs/curse-of-memory.yaml"
        log:
            f"results/logs/train/{FAMILY}.log",
        benchmark:
            f"results/benchmarks/train/{FAMILY}.tsv"
        script:
            "../scripts/train.py"
