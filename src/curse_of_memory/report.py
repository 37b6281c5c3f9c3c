"""Text of the Snakemake report: per-figure captions and the front page, in reStructuredText.

Captions say what a figure plots, what the paper claims for it, and what this run found (its rows of
the claims table); the front page holds the claims table and the configuration. (Runtimes are a report
item of their own, results/benchmarks/runtimes.csv: they differ between runs, these pages do not.)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from curse_of_memory.claims import VERDICTS
from curse_of_memory.claims_tables import number


def claim_lines(claims: pd.DataFrame) -> list[str]:
    """One RST bullet per claim: statement, statistic, value [CI], threshold test, verdict, controls."""
    lines = []
    for row in claims.itertuples():
        interval = (
            " (no interval)"
            if np.isnan(row.ci_low)
            else f" (95% CI {number(row.ci_low)} to {number(row.ci_high)})"
        )
        control = getattr(row, "control", "")
        control = f" Negative control: {control}." if isinstance(control, str) and control else ""
        test = row.test.replace("threshold", number(row.threshold))
        lines.append(
            f"- ``{row.claim}`` {row.statement}: {row.statistic} = {number(row.value)}{interval}; "
            f"claim needs {test} -- **{row.verdict}**.{control}"
        )
    return lines


def caption(description: dict, claims: pd.DataFrame) -> str:
    """The caption of one figure: ``description`` (title, plots, paper) plus this run's claims."""
    found = claim_lines(claims) or [
        "- (no claim of the paper is tested on this figure alone; see the claims table)"
    ]
    return "\n".join(
        [
            f"**{description['title']}.** {description['plots']}",
            "",
            f"**Paper:** {description['paper']}",
            "",
            "**This run:**",
            "",
            *found,
            "",
        ]
    )


def rst_table(table: pd.DataFrame) -> str:
    """A ``list-table`` directive of a data frame (numbers to 4 significant digits)."""

    def cell(value) -> str:
        if isinstance(value, float):
            return number(value) if not np.isfinite(value) else f"{value:.4g}"
        return str(value).replace("|", "/")

    lines = [".. list-table::", "   :header-rows: 1", ""]
    for values in [list(table.columns), *table.itertuples(index=False)]:
        lines.append(f"   * - {cell(values[0])}")
        lines += [f"     - {cell(value)}" for value in values[1:]]
    return "\n".join(lines) + "\n"


def front_page(claims: pd.DataFrame, config: dict) -> str:
    """The report's front page: what the pipeline is, the claims table, the configuration."""
    counts = claims["verdict"].value_counts()
    tally = ", ".join(f"{counts.get(verdict, 0)} {verdict}" for verdict in VERDICTS)
    config_block = "\n".join("    " + line for line in yaml.safe_dump(config, sort_keys=False).splitlines())
    return "\n".join(
        [
            "curse-of-memory: Wang, Li & Li (ICLR 2024), reproduced",
            "=======================================================",
            "",
            "Every figure below has a caption with the paper's claim and what this run found. "
            f"Of {len(claims)} claims and conditions in this run (results/claims.csv): **{tally}**. A claim "
            "holds when its whole 95% interval is on its side of the threshold and it does not hold on its "
            "negative control (the same models before training or fitting; results/controls/claims.csv).",
            "",
            "Claims",
            "------",
            "",
            rst_table(claims.drop(columns=["statistic", "holds"])),  # the statistic's wording: captions
            "",
            "Runtimes per rule are under *Runtimes* (from Snakemake's ``benchmark:`` files).",
            "",
            "Configuration",
            "-------------",
            "",
            "::",
            "",
            config_block,
            "",
        ]
    )


def runtime_table(benchmarks: dict[str, list[str]]) -> pd.DataFrame:
    """Per rule: jobs, total, median and max wall-clock seconds, max RSS (MB), from the rule's
    Snakemake benchmark files (tab-separated, one row per job)."""
    rows = []
    for rule, paths in benchmarks.items():
        if not paths:
            continue
        frame = pd.concat([pd.read_csv(path, sep="\t") for path in paths], ignore_index=True)
        seconds = frame["s"].astype(float)
        rss = pd.to_numeric(frame["max_rss"], errors="coerce")
        rows.append(
            {
                "rule": rule,
                "jobs": len(frame),
                "total_s": float(seconds.sum()),
                "median_s": float(seconds.median()),
                "max_s": float(seconds.max()),
                "max_rss_mb": float(rss.max()) if rss.notna().any() else float("nan"),
            }
        )
    return pd.DataFrame(rows, columns=["rule", "jobs", "total_s", "median_s", "max_s", "max_rss_mb"])
