"""Start-up: a job that evaluates no model imports no torch (importing it costs a short job more than its
work, and the summaries, figures, claims and report are most of the pipeline's jobs)."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
#: The scripts of the jobs that read tables and draw: summaries, figures, claims, report, run times.
TORCH_FREE = sorted(
    path.name
    for path in SCRIPTS.glob("*.py")
    if path.stem.startswith(("plot_", "summarize_"))
    or path.stem
    in {"claims", "classification_data", "report_pages", "results_page", "runtimes", "teacher_filter"}
)


def imports_torch(script: str) -> bool:
    """Whether importing everything ``script`` imports (at any depth of its code) loads torch, in a fresh
    interpreter."""
    tree = ast.parse((SCRIPTS / script).read_text())
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    program = "import importlib, sys\n"
    program += "".join(f"importlib.import_module({name!r})\n" for name in sorted(modules))
    program += "print('torch' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    return completed.stdout.strip() == "True"


def test_the_torch_free_scripts_are_the_table_and_figure_jobs():
    assert len(TORCH_FREE) >= 15
    assert imports_torch("train.py")  # negative control: the check sees torch where it is imported


@pytest.mark.parametrize("script", TORCH_FREE)
def test_a_job_without_a_model_imports_no_torch(script):
    assert not imports_torch(script)
