"""Rule report_pages: the report's front page and one caption per figure (paper claim + this run)."""

from curse_of_memory.artifacts import atomic_path, load_csv
from curse_of_memory.classification_tables import table_one
from curse_of_memory.report import caption, front_page, rst_table
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
claims = load_csv(snakemake.input.claims, made_by="claims")
with atomic_path(snakemake.output.front) as path:
    path.write_text(front_page(claims, snakemake.config))
# Table 1 goes under Figure 9's caption
tables = {}
for path in snakemake.input.classification_test:
    test = load_csv(path, made_by="summarize_classification")
    tables["fig9"] = (
        "**Table 1.** Test loss and accuracy (mean ± standard error over seeds).\n\n"
        + rst_table(table_one(test))
    )
figures = snakemake.params.figures  # name -> caption (title, plots, paper) and the labels of its claims
for (name, description), output in zip(figures.items(), snakemake.output.captions, strict=True):
    with atomic_path(output) as path:
        text = caption(description, claims[claims["figure"].isin(description["claims"])])
        path.write_text(text + ("\n" + tables[name] if name in tables else ""))
log.info("%d captions", len(snakemake.output.captions))
