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


def test_the_readmes_first_commands_are_what_ci_runs():
    """The README opens with one command that installs and runs the quick preset and one that runs the
    tests; the install pins the torch that .ci/run installs, and the test command is the one it runs."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"\n\n((?:    .+\n)+)", readme)
    install, tests = (line.strip() for line in block.group(1).splitlines()[:2])
    ci = (REPO / ".ci" / "run").read_text()
    pins = re.findall(r"torch==[\w.+]+", install), re.findall(r"torch==[\w.+]+", ci)
    assert pins[0] and pins[0] == pins[1], pins
    assert 'pip install -e ".[test]"' in install and 'pip install --quiet -e ".[test]"' in ci
    assert install.endswith("snakemake --cores all")  # the quick preset: config.yaml, every target
    assert re.search(rf"^{re.escape(tests)}\s+# the README's test command$", ci, re.M), tests


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
