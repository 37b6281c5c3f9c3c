"""Rule report_pages: the report's front page and one caption per figure (paper claim + this run)."""

from pathlib import Path

import yaml

from curse_of_memory.artifacts import atomic_path, load_csv
from curse_of_memory.report import caption, front_page
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
claims = load_csv(snakemake.input.claims, made_by="claims")
descriptions = yaml.safe_load(Path(snakemake.input.descriptions).read_text())
with atomic_path(snakemake.output.front) as path:
    path.write_text(front_page(claims, snakemake.config))
for (name, labels), output in zip(snakemake.params.figures.items(), snakemake.output.captions, strict=True):
    with atomic_path(output) as path:
        path.write_text(caption(descriptions[name], claims[claims["figure"].isin(labels)]))
log.info("%d captions", len(snakemake.output.captions))
