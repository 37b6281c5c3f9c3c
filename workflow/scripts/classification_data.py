"""Rule classification_data: the digits as standardised pixel sequences, split by a seeded permutation."""

from curse_of_memory.artifacts import save_dataset
from curse_of_memory.image_sequences import pixel_sequences
from curse_of_memory.runtime import configure_logging

snakemake = globals()["snakemake"]  # injected by Snakemake's script directive
log = configure_logging(snakemake.log[0])
params = snakemake.params
arrays, metadata = pixel_sequences(params.dataset, params.idx, params.sizes, params.seed)
log.info("%s", metadata)
save_dataset(snakemake.output.dataset, arrays, metadata)
