"""Report pages: captions carry the paper's claim and this run's verdicts; runtimes come from benchmarks."""

import numpy as np
import pandas as pd
from docutils.core import publish_parts

from curse_of_memory.claims import COLUMNS
from curse_of_memory.report import caption, front_page, rst_table, runtime_table

CLAIMS = pd.DataFrame(
    [
        [
            "7-with-softplus",
            "7",
            "softplus keeps its radius",
            "slope",
            0.1,
            0.0,
            0.2,
            "value >= threshold",
            -0.15,
            "holds",
            True,
            3,
            0,
            "",
            "initialization: does not hold",
        ],
        [
            "7-without",
            "7",
            "vanilla loses it",
            "slope",
            0.0,
            np.nan,
            np.nan,
            "value < threshold",
            -0.15,
            "inconclusive",
            False,
            2,
            1,
            "",
            "",
        ],
        [
            "12",
            "12",
            "students fail",
            "ratio",
            0.2,
            0.1,
            0.3,
            "value >= threshold",
            0.5,
            "does not hold",
            False,
            3,
            0,
            "",
            "initialization: does not hold",
        ],
    ],  # fmt: skip
    columns=[*COLUMNS, "control"],
)
DESCRIPTION = {
    "title": "Figure 7",
    "plots": "E_m(beta) of ReLU RNNs.",
    "paper": "unstable without, stable with.",
}


def html(rst: str) -> str:
    return publish_parts(rst, writer="html")["body"]


def test_caption_states_the_paper_claim_and_each_verdict():
    text = caption(DESCRIPTION, CLAIMS)
    rendered = html(text)
    assert "unstable without, stable with." in rendered
    assert "softplus keeps its radius" in rendered and "<strong>holds</strong>" in rendered
    assert "vanilla loses it" in rendered and "<strong>inconclusive</strong>" in rendered
    assert "<strong>does not hold</strong>" in rendered and "(no interval)" in text
    assert "95% CI 0 to 0.2" in text and "value >= -0.15" in text
    assert text.count("Negative control: initialization: does not hold.") == 2
    assert "no claim of the paper" in caption(DESCRIPTION, CLAIMS.iloc[:0])


def test_front_page_renders_the_claims_table_and_the_configuration():
    rendered = html(front_page(CLAIMS, {"grid": {"widths": [8, 16]}}))
    assert "1 holds, 1 does not hold, 1 inconclusive" in rendered
    assert rendered.count("<tr>") == len(CLAIMS) + 1
    assert "widths" in rendered


def test_rst_table_escapes_and_formats_cells():
    table = pd.DataFrame({"a": ["x|y"], "b": [1.234567], "c": [np.nan]})
    assert "x/y" in rst_table(table) and "1.235" in rst_table(table) and "n/a" in rst_table(table)


def test_runtime_table_sums_benchmark_files(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    paths = []
    for index, seconds in enumerate([2.0, 4.0, 9.0]):
        path = tmp_path / f"{index}.tsv"
        path.write_text(header + f"{seconds}\t0:00:0{int(seconds)}\t{100 + index}\t1\t1\t1\t0\t0\t50\t1\n")
        paths.append(path)
    table = runtime_table({"train": paths, "unused": []}).set_index("rule")
    assert list(table.index) == ["train"]
    assert table.loc["train", "jobs"] == 3 and table.loc["train", "total_s"] == 15.0
    assert table.loc["train", "median_s"] == 4.0 and table.loc["train", "max_rss_mb"] == 102.0
