"""The pages that quote the quick preset's run agree with its tables and with one another."""

from pathlib import Path

import pandas as pd
import pytest

from curse_of_memory.published_pages import (
    DATA,
    FINDINGS_MARKERS,
    README_MARKERS,
    claims_summary,
    main,
    published_pages,
    replace_block,
    unmatched_intervals,
)

ROOT = Path(__file__).resolve().parents[1]


def test_every_published_page_is_what_its_tables_generate():
    """README's claims table, docs/results.md and docs/findings.md's summary, regenerated from the tables
    in docs/data/quick-preset: a page edited by hand, or left behind when the tables were replaced, fails."""
    for page, text in published_pages(ROOT / DATA, ROOT).items():
        stale = f"{page.relative_to(ROOT)} is stale: python -m curse_of_memory.published_pages"
        assert page.read_text() == text, stale


def test_every_interval_findings_quotes_is_one_of_the_claims():
    claims = pd.read_csv(ROOT / DATA / "claims.csv")
    findings = (ROOT / "docs/findings.md").read_text()
    assert unmatched_intervals(findings, claims) == []
    assert findings.count(" [") > 10  # the page does quote intervals: the check above is not vacuous


@pytest.fixture
def claims() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"claim": "7", "verdict": "holds", "value": 0.24, "ci_low": 0.03, "ci_high": 0.33,
             "radius_verdict": "does not hold", "radius_value": -0.5, "radius_ci_low": -0.9,
             "radius_ci_high": -0.2, "control": "initialization: holds"},
            {"claim": "7.error", "verdict": "holds", "value": -1.0, "ci_low": -1.5, "ci_high": -0.5},
            {"claim": "9", "verdict": "inconclusive", "value": -0.327, "ci_low": -0.331, "ci_high": -0.248,
             "control": "initialization: does not hold"},
            {"claim": "10", "verdict": "does not hold", "value": 0.583, "ci_low": 0.5,
             "ci_high": float("inf")},
        ]
    )  # fmt: skip


def test_a_quote_must_match_a_claims_value_and_interval_to_its_printed_digits(claims):
    agreeing = "0.24 [0.03, 0.33]; 0.327 [0.248, 0.331] lower; 58% [50%, ∞); −1.0 [−1.5, −0.50]"
    agreeing += "; a radius −0.5 [−0.9, −0.2]"
    assert unmatched_intervals(agreeing, claims) == []
    contradicting = [
        "0.25 [0.03, 0.33]",  # the value differs in its last printed digit
        "0.24 [0.03, 0.34]",  # the bound does
        "0.24 [0.030, 0.33]",  # a trailing zero: the same number, to one more digit (it agrees)
        "0.327 [0.248, 0.331] higher but the sign of one bound flipped: −0.327 [0.248, 0.331]",
        "58% [50%, 67%]",  # the upper bound is infinite
        "2 [1, 3]",  # no such claim
    ]
    found = [unmatched_intervals(text, claims) for text in contradicting]
    assert found[0] == ["0.25 [0.03, 0.33]"] and found[1] == ["0.24 [0.03, 0.34]"]
    assert found[2] == []
    assert found[3] == ["−0.327 [0.248, 0.331]"]
    assert found[4] == ["58% [50%, 67%]"] and found[5] == ["2 [1, 3]"]


def test_the_summary_lists_each_verdict_of_each_reading_and_a_control_that_holds(claims):
    summary = claims_summary(claims)
    lines = summary.splitlines()
    assert lines[0] == "- **Hold**: 7; **Do not hold**: 10; **Inconclusive**: 9."  # no condition rows
    assert lines[1] == "- On the radius reading: **Do not hold**: 7 (-0.5 [-0.9, -0.2])."
    assert lines[-1] == "- On their negative controls (2 claims): **7 hold there**, demoted."
    assert "none holds" in claims_summary(claims.assign(control="initialization: does not hold"))


def test_blocks_are_replaced_between_their_markers_only():
    start, end = README_MARKERS
    text = f"intro\n{start}\nstale table\n{end}\noutro\n"
    assert replace_block(text, README_MARKERS, "new\n") == f"intro\n{start}\nnew\n{end}\noutro\n"
    with pytest.raises(ValueError):
        replace_block(text, FINDINGS_MARKERS, "new\n")


def test_from_a_run_copies_its_tables_and_rewrites_the_three_pages(tmp_path):
    """``--from RUN/results`` on a copy of the repository's pages and the quick preset's tables, with one
    claim's verdict changed: every page that shows it changes, and the copied table is the run's."""
    results = tmp_path / "results"
    for table in (ROOT / DATA).rglob("*"):
        if table.is_file():
            copy = results / table.relative_to(ROOT / DATA)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(table.read_bytes())
    claims = pd.read_csv(results / "claims.csv")
    claims.loc[claims["claim"] == "11", "verdict"] = "does not hold"
    claims.to_csv(results / "claims.csv", index=False)
    root = tmp_path / "repository"
    for page in ("README.md", "docs/findings.md", "config.yaml"):
        (root / page).parent.mkdir(parents=True, exist_ok=True)
        (root / page).write_text((ROOT / page).read_text())
    main(["--from", str(results), "--root", str(root)])
    assert pd.read_csv(root / DATA / "claims.csv").equals(claims)
    assert "**Do not hold**: 4-exp, 4-softplus, 10-s4d, 11;" in (root / "docs/findings.md").read_text()
    row = next(line for line in (root / "README.md").read_text().splitlines() if line.startswith("| 11 |"))
    assert "**does not hold**" in row
    assert "**does not hold**: median of tail_ratio" in (root / "docs/results.md").read_text()
