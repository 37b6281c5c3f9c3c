"""The documentation holds together: every document named anywhere exists, and the README stays a front
door (the long form lives in docs/)."""

import re
import subprocess

from curse_of_memory.models import PARAMETERIZATIONS

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


def test_the_python_api_examples_run():
    """docs/extending.md's code blocks, run in order in one namespace: the documented API exists."""
    text = (REPO / "docs" / "extending.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    namespace: dict = {}
    registry = dict(PARAMETERIZATIONS)
    try:
        for block in blocks:
            exec(compile(block, "docs/extending.md", "exec"), namespace)  # noqa: S102 - the repository's own docs
    finally:  # the example registers a parameterisation: other tests see the registry as shipped
        PARAMETERIZATIONS.clear()
        PARAMETERIZATIONS.update(registry)
    assert len(blocks) == 3 and tuple(namespace["logits"].shape) == (8, 10)


def test_every_test_the_how_to_names_exists():
    """docs/howto.md names the test that does each task's steps: each must be a test function of its file."""
    named = re.findall(r"`(tests/test_\w+\.py)::(test_\w+)`", (REPO / "docs" / "howto.md").read_text())
    assert len(named) >= 9
    missing = [
        f"{path}::{name}"
        for path, name in named
        if not re.search(rf"^def {name}\(", (REPO / path).read_text(), re.M)
    ]
    assert not missing, missing
