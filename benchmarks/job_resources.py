"""Do the jobs of a finished run stay inside what their rules ask for? Every job of a run directory that
left a benchmark file (results/benchmarks/...tsv: wall seconds and peak memory), against the walltime and
memory its rule requests for the same config (curse_of_memory.job_resources), read off a dry run.

    python benchmarks/job_resources.py [--directory RUN] [--configfile presets/paper.yaml ...]

One line per rule: how many jobs were measured, and the largest measured/requested ratio of walltime and
of memory (below 1: every job fitted; the margin is what is left).
"""

from __future__ import annotations

import argparse
import collections
import csv
import subprocess
import sys
from pathlib import Path

from curse_of_memory.job_resources import listed_jobs, listed_resources

REPO = Path(__file__).resolve().parents[1]


def requested_jobs(directory: Path, configfiles: list[str]) -> list[tuple[str, Path, dict]]:
    """(rule, benchmark file, resources) of every job of the config's DAG that writes a benchmark."""
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "-n",
        "--nolock",
        "--forceall",
        "--rerun-incomplete",
        "--cores",
        "16",
        "--snakefile",
    ]
    command += [str(REPO / "Snakefile"), "--directory", str(directory)]
    command += ["--configfile", *configfiles] if configfiles else []
    listing = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [
        (rule, directory / fields["benchmark"], listed_resources(fields["resources"]))
        for rule, fields in listed_jobs(listing)
        if "benchmark" in fields and "resources" in fields
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--directory", type=Path, default=REPO, help="the run's working directory")
    parser.add_argument("--configfile", nargs="*", default=[], help="the run's config files, in order")
    arguments = parser.parse_args()
    ratios = collections.defaultdict(list)
    for rule, path, resources in requested_jobs(arguments.directory.resolve(), arguments.configfile):
        if path.is_file():
            measured = list(csv.DictReader(path.open(), delimiter="\t"))[-1]
            ratios[rule].append(
                (
                    float(measured["s"]) / 60 / float(resources["runtime"]),
                    float(measured["max_rss"]) / float(resources["mem_mb"]),
                )
            )
    print(f"{'rule':40s} {'jobs':>5s} {'walltime used':>14s} {'memory used':>12s}")
    for rule, values in sorted(ratios.items()):
        runtime, memory = (max(column) for column in zip(*values, strict=True))
        print(f"{rule:40s} {len(values):5d} {runtime:14.2f} {memory:12.2f}")


if __name__ == "__main__":
    main()
