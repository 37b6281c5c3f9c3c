"""Rule results_page: the figure-by-figure comparison with the paper (results/results.md)."""

from curse_of_memory.artifacts import atomic_path
from curse_of_memory.results_page import PAGE_TABLES, load_page_tables, results_page
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])


def single(paths) -> str | None:
    """A named input given as a file or as a list of at most one (an optional study's table)."""
    return paths if isinstance(paths, str) else (paths[0] if len(paths) else None)


tables = load_page_tables({name: single(getattr(snakemake.input, name)) for name in PAGE_TABLES})
page = results_page(lstsq=snakemake.params.lstsq, **tables)
with atomic_path(snakemake.output.page) as path:
    path.write_text(page)
log.info("wrote %s", snakemake.output.page)
