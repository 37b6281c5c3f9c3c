"""Rule least_squares: Figures 1 and 4's study — kernels fitted by least squares, then perturbed — the
same study under every construction (fit × perturbed blocks), for docs/lstsq.md, and with the claims'
negative controls the kernels before fitting, perturbed alike."""

import numpy as np

from curse_of_memory.artifacts import save_csv
from curse_of_memory.lstsq import constructions_table, study_tables
from curse_of_memory.plugins import load_plugins
from curse_of_memory.runtime import configure_logging
from curse_of_memory.targets import build_target

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
load_plugins(snakemake.config["plugins"])  # the config's own registered forms and targets
log = configure_logging(snakemake.log[0])
settings = snakemake.params.lstsq
t = np.arange(1, settings["horizon"] + 1, dtype=float)
memories = {name: build_target(spec, dt=1.0).rho(t) for name, spec in snakemake.params.targets.items()}
draws, fits = study_tables(memories, t, settings)
save_csv(snakemake.output.draws, draws)
save_csv(snakemake.output.fits, fits)
for path in snakemake.output.controls:
    save_csv(path, study_tables(memories, t, settings, before_fitting=True)[0])
errors = fits.groupby(["target", "width"])[["error_at_zero", "stability_margin"]].first()
log.info("fits (%s):\n%s", settings["fit"], errors)
constructions = constructions_table(memories, t, settings)
save_csv(snakemake.output.constructions, constructions)
log.info("constructions:\n%s", constructions.to_string())
