"""Figures 1 and 4 under every plausible reading of the paper's fixed-rate regression (docs/lstsq.md).

For each time scale τ of the rate grid ``λ_i = i/τ`` (τ = 1 is the literal reading: integer rates on
t = 1..100), each SVD cut-off ``rcond`` and each perturbed-block setting, prints per target the fits'
``E_m(0)`` for every width, the largest coefficient, and the crossing points of consecutive widths'
``E_m(β)`` curves (direct parameterisation, the quick preset's β grid and draws, its first seed's
perturbation directions: the max-over-draws curves of ``constructions.csv`` and docs/results.md).

    python benchmarks/lstsq_readings.py [--time-scales 1 10 20 50] [--rconds none 1e-8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from curse_of_memory.config import load_config
from curse_of_memory.lstsq import study_tables
from curse_of_memory.stability import crossings, error_curve
from curse_of_memory.targets import build_target

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scales", type=float, nargs="+", default=[1.0, 10.0, 20.0, 50.0])
    parser.add_argument("--rconds", nargs="+", default=["none", "1e-8"])
    arguments = parser.parse_args()
    config = load_config(ROOT / "config.yaml")
    settings = {**config["lstsq"], "parameterizations": ["direct"]}
    t = np.arange(1, settings["horizon"] + 1, dtype=float)
    memories = {name: build_target(config["targets"][name], dt=1.0).rho(t) for name in settings["targets"]}
    print("tau  rcond  perturbed  target  E_m(0) per width  max|c|  crossings of consecutive widths")
    for time_scale in arguments.time_scales:
        for rcond in arguments.rconds:
            for perturbed in ("all", "rates"):
                variant = {
                    **settings,
                    "fit": "regression",
                    "regression": {
                        "time_scale": time_scale,
                        "rcond": None if rcond == "none" else float(rcond),
                    },
                    "perturbed": perturbed,
                    "seeds": settings["seeds"][:1],  # one replicate, as lstsq.constructions_table
                }
                with np.errstate(all="ignore"):
                    draws, fits = study_tables(memories, t, variant)
                for target, family in draws.groupby("target"):
                    curves = {int(w): error_curve(d) for w, d in family.groupby("width")}
                    mine = fits[fits["target"] == target]
                    errors = mine.groupby("width")["error_at_zero"].first()
                    crossed = [row["crossing_beta"] for row in crossings(curves)]
                    print(
                        f"{time_scale:4g}  {rcond:5s}  {perturbed:9s}  {target:9s}  "
                        + " ".join(f"{e:.1e}" for e in errors)
                        + f"  {mine['coefficient'].abs().max():.0e}  "
                        + " ".join(f"{c:.2g}" for c in crossed)
                    )


if __name__ == "__main__":
    main()
