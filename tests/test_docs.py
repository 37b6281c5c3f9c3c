"""The documentation holds together: every document named anywhere exists, and the README stays a front
door (the long form lives in docs/)."""

import re
import subprocess

from .conftest import REPO


def tracked_text_files() -> list:
    names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    suffixes = {".md", ".py", ".smk", ".yaml", ".rst", ".c", ".toml", ".cfg"}
    return [
        REPO / name for name in names.splitlines() if (REPO / name).suffix in suffixes or name == "Snakefile"
    ]


def test_every_named_document_exists():
    named = {
        match
        for path in tracked_text_files()
        if path.exists()
        for match in re.findall(r"\bdocs/[\w-]+\.md", path.read_text(errors="replace"))
    }
    assert named and all((REPO / name).exists() for name in named), sorted(
        n for n in named if not (REPO / n).exists()
    )


def test_the_readme_is_a_front_door():
    readme = (REPO / "README.md").read_text().splitlines()
    assert len(readme) <= 200
    assert readme[2].strip().startswith("python3 -m venv .venv") and "snakemake --cores all" in readme[2]
    assert readme[3].strip() == ".venv/bin/python -m pytest"
