"""Rule least_squares: Figures 1 and 4's study — kernels fitted by least squares, then perturbed."""

import numpy as np

from curse_of_memory.artifacts import save_csv
from curse_of_memory.lstsq import study_tables
from curse_of_memory.perturbation import beta_grid
from curse_of_memory.runtime import configure_logging
from curse_of_memory.targets import build_target

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
settings = snakemake.params.lstsq
t = np.arange(1, settings["horizon"] + 1, dtype=float)
memories = {name: build_target(spec, dt=1.0).rho(t) for name, spec in snakemake.params.targets.items()}
draws, fits = study_tables(
    memories,
    t,
    settings["widths"],
    settings["parameterizations"],
    beta_grid(**settings["betas"]),
    settings["draws"],
    settings["seed"],
)
save_csv(snakemake.output.draws, draws)
save_csv(snakemake.output.fits, fits)
log.info("fits:\n%s", fits.groupby(["target", "width"])[["error_at_zero", "stability_margin"]].first())
