"""A user's own parameterisation, registered by a module the config names: used by every job that reads
the registries, drawn in Figure 7 without an edit of the package, and tracked as a code input."""

import re
import sys

import numpy as np
import pytest
import torch

from curse_of_memory.job_resources import listed_jobs
from curse_of_memory.models import PARAMETERIZATIONS, RNN
from curse_of_memory.plugins import load_plugins

from .conftest import REPO, snakemake

# g(w) = 1 + tanh(w) in (0, 2), inverse atanh(v - 1): docs/extending.md's plugin, read from there
PLUGIN = next(
    block
    for block in re.findall(r"```python\n(.*?)```", (REPO / "docs" / "extending.md").read_text(), re.DOTALL)
    if 'register_parameterization("one_plus_tanh"' in block
)


@pytest.fixture
def plugin_file(tmp_path, monkeypatch):
    """my_forms.py in the working directory; the registry and module cache restored afterwards."""
    (tmp_path / "my_forms.py").write_text(PLUGIN)
    monkeypatch.chdir(tmp_path)
    yield tmp_path / "my_forms.py"
    PARAMETERIZATIONS.pop("one_plus_tanh", None)
    sys.modules.pop("curse_of_memory_plugin_my_forms", None)


def test_a_plugin_registers_its_form_once_and_the_model_uses_it(plugin_file):
    assert "one_plus_tanh" not in PARAMETERIZATIONS
    assert load_plugins(["my_forms.py"]) == load_plugins(["my_forms.py"]) == [plugin_file]
    model = RNN(4, "tanh", "one_plus_tanh", seed=0)
    eigenvalues = torch.linalg.eigvalsh(model.recurrent_matrix().detach())
    expected = 1.0 + torch.tanh(model.recurrent_raw.detach())
    assert torch.allclose(eigenvalues, expected.sort().values)


def test_a_missing_plugin_names_itself():
    with pytest.raises(FileNotFoundError, match="no_such_forms.py"):
        load_plugins(["no_such_forms.py"])
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        load_plugins(["no_such_module"])


def run_with_plugin(workdir, plugin: str, code: str, study: str, target: str) -> list[str]:
    """Write the plugin file and a config naming it (``study``, YAML) over the tiny config, build ``target``
    with Snakemake, and return the arguments of that run."""
    (workdir / plugin).write_text(code)
    (workdir / "study.yaml").write_text(f"plugins: [{plugin}]\n{study}")
    arguments = [target, "--cores", "2", "--configfile", "tests/config.tiny.yaml", "study.yaml"]
    run = snakemake(workdir, *arguments)
    assert run.returncode == 0, run.stderr[-3000:]
    return arguments


@pytest.mark.workflow
def test_a_plugin_form_is_trained_drawn_in_figure_7_and_tracked_as_code(workdir):
    study = (
        "grid: {parameterizations: [softplus, one_plus_tanh]}\n"
        "figures: {fig7: {target: pol, activation: tanh, parameterizations: [softplus, one_plus_tanh]}}\n"
    )
    arguments = run_with_plugin(workdir, "my_forms.py", PLUGIN, study, "fig7")
    assert (workdir / "results/figures/fig7.png").is_file()
    draws = workdir / "results/perturbation/pol/tanh/one_plus_tanh/width8_seed0.csv"
    assert draws.is_file()

    with (workdir / "my_forms.py").open("a") as plugin:
        plugin.write("# edited\n")
    edited = snakemake(workdir, "-n", *arguments)
    assert edited.returncode == 0, edited.stderr[-3000:]
    inputs = {}  # rule -> whether its job lists the plugin among its inputs
    for rule, fields in listed_jobs(edited.stdout):
        inputs.setdefault(rule, set()).add("my_forms.py" in fields.get("input", ""))
    # the jobs whose scripts read the registries rerun for the edit; the figure because its inputs are remade
    assert inputs == {
        "make_target": {True},
        "train_trained": {True},
        "perturbation_error_trained": {True},
        "fig7": {False},
    }, edited.stdout[-3000:]


# a memory shape of one's own, a target made of it and trained in the grid: the how-to's "add a target"
SHAPE_PLUGIN = """
import numpy as np

from curse_of_memory.targets import register_memory_shape


@register_memory_shape("stretched_exp")
def stretched_exp(t, rate=0.5, power=0.5):
    return np.exp(-rate * t**power)
"""


@pytest.mark.workflow
def test_a_plugin_memory_shape_is_a_target_the_grid_trains_on(workdir):
    study = (
        "targets: {stretched: {memory: stretched_exp, parameters: {rate: 0.5, power: 0.5}}}\n"
        "grid: {targets: [pol, stretched]}\n"
    )
    model = "results/models/stretched/tanh/softplus/width4_seed0/metrics.json"
    run_with_plugin(workdir, "my_shapes.py", SHAPE_PLUGIN, study, model)
    dataset = np.load(workdir / "results/targets/stretched.npz")
    assert np.allclose(dataset["rho"], np.exp(-0.5 * dataset["t"] ** 0.5))
    assert (workdir / model).is_file()
