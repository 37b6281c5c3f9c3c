"""Rule make_target: one target's seeded train/validation/test data set, with metadata (and rho)."""

from curse_of_memory.artifacts import save_dataset
from curse_of_memory.plugins import load_plugins
from curse_of_memory.runtime import configure_logging
from curse_of_memory.targets import build_target, make_dataset

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
load_plugins(snakemake.config["plugins"])  # the config's own registered forms and targets
log = configure_logging(snakemake.log[0])
spec, data = snakemake.params.target, snakemake.params.data
target = build_target(spec, data["dt"])
arrays = make_dataset(
    target,
    data["sizes"],
    data["sequence_length"],
    data["input_std"],
    data["seed"],
    data["test_sequence_length"],
)
metadata = {
    "name": snakemake.wildcards.target,
    "target": spec,
    "dt": data["dt"],
    "seed": data["seed"],
    "input_std": data["input_std"],
    "sizes": data["sizes"],
    "sequence_length": data["sequence_length"],
    "test_sequence_length": data["test_sequence_length"],
}
save_dataset(snakemake.output.dataset, arrays, metadata)
log.info("wrote %s: %s", snakemake.output.dataset, {k: v.shape for k, v in arrays.items()})
