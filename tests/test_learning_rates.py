"""The learning-rate stability sweep: divergence recorded as data, epochs to a loss level, the largest stable
learning rate with the interval its grid allows, its table, and the claims read off it."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from curse_of_memory.claims import claims_table
from curse_of_memory.config import load_config
from curse_of_memory.learning_rate_tables import COLUMNS, largest_stable_learning_rates, largest_stable_table
from curse_of_memory.learning_rates import epochs_to_level, sweep_run
from curse_of_memory.models import RNN, log_uniform_eigenvalues
from curse_of_memory.paper_claims import learning_rate_claims
from curse_of_memory.training import TrainingSettings

from .conftest import REPO


def test_epochs_to_level_is_the_first_epoch_at_or_below_it():
    assert epochs_to_level([5.0, 2.0, 0.5, 0.7, 0.1], 0.5) == 3.0
    assert math.isnan(epochs_to_level([5.0, 2.0], 1.0)) and math.isnan(epochs_to_level([], 1.0))


def problem(length: int = 20):
    """A small memory task: inputs and the outputs of a decaying linear functional of them."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(96, length, 1, dtype=torch.float64, generator=generator)
    rho = torch.exp(-0.3 * torch.arange(length, dtype=torch.float64))
    # y_t = sum_s rho_s x_{t-s}: the lower-triangular Toeplitz matrix of rho applied to each sequence
    toeplitz = torch.stack(
        [torch.cat([rho[: t + 1].flip(0), rho.new_zeros(length - t - 1)]) for t in range(length)]
    )
    targets = (inputs[..., 0] @ toeplitz.T)[..., None]
    return {"train": (inputs[:64], targets[:64]), "validation": (inputs[64:], targets[64:])}


SETTINGS = TrainingSettings(batch_size=16, max_epochs=3, gradient_clip=None, divergence_retries=0)


def model(parameterization: str, activation: str = "tanh") -> RNN:
    rnn = RNN(6, activation, parameterization, seed=0)
    return rnn.set_eigenvalues_(log_uniform_eigenvalues(6, 0.05, 1.0, seed=0))


def test_a_small_rate_trains_and_a_huge_one_diverges_cleanly_as_data():
    splits = problem()
    trained = sweep_run(model("softplus"), splits, SETTINGS, 0, explosion_factor=10, loss_level=0.5)
    assert not trained["diverged"] and trained["epochs"] == 3
    assert trained["final_validation_loss"] < trained["initial_validation_loss"]
    # the linear recurrence with an unconstrained W overflows at a huge rate: the run stops, not the job
    huge = dataclasses.replace(SETTINGS, learning_rate=1e4)
    blown = sweep_run(model("direct", "linear"), splits, huge, 0, explosion_factor=10, loss_level=0.5)
    assert blown["diverged"] and blown["final_validation_loss"] == math.inf and blown["epochs"] < 3


def test_a_finite_loss_that_explodes_counts_as_diverged():
    splits = problem()
    settings = dataclasses.replace(SETTINGS, learning_rate=30.0)
    run = sweep_run(model("direct"), splits, settings, 0, explosion_factor=1.5, loss_level=0.5)
    tolerant = sweep_run(model("direct"), splits, settings, 0, explosion_factor=1e12, loss_level=0.5)
    assert math.isfinite(run["final_validation_loss"])
    assert run["diverged"] and not tolerant["diverged"]  # the same run, judged by the factor alone


def sweep(stable_up_to: dict[str, float], rates=(1e-3, 1e-2, 1e-1, 1.0), seeds=(0, 1, 2)) -> pd.DataFrame:
    """Runs that diverge above each form's ``stable_up_to`` rate (every rate when it is 0)."""
    rows = [
        {
            "target": "pol",
            "activation": "tanh",
            "parameterization": name,
            "width": 8,
            "learning_rate": rate,
            "seed": seed,
            "diverged": rate > limit,
            "final_validation_loss": 1.0 if rate <= limit else math.inf,
            "epochs_to_level": 2.0,
            "epochs": 5,
            "initial_validation_loss": 3.0,
        }
        for name, limit in stable_up_to.items()
        for rate in rates
        for seed in seeds
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def test_largest_stable_rates_carry_the_interval_of_their_grid():
    largest = largest_stable_learning_rates(sweep({"direct": 1e-2, "softplus": 1.0, "vanilla": 0.0}))
    by_form = largest.drop_duplicates("parameterization").set_index("parameterization")
    column = "log10_largest_stable_learning_rate"
    assert by_form.loc["direct", [column, f"{column}_low", f"{column}_high"]].tolist() == [-2.0, -2.0, -1.0]
    assert by_form.loc["softplus", [f"{column}_low", f"{column}_high"]].tolist() == [0.0, math.inf]
    assert by_form.loc["vanilla", "largest_stable_learning_rate"] == 0.0
    assert by_form.loc["vanilla", [f"{column}_low", f"{column}_high"]].tolist() == [-math.inf, -3.0]
    assert len(largest) == 3 * 3  # one row per model
    # a rate above the first diverging one that happens not to diverge does not count
    bumpy = sweep({"direct": 1e-2})
    bumpy.loc[bumpy["learning_rate"] == 1.0, ["diverged", "final_validation_loss"]] = [False, 1.0]
    again = largest_stable_learning_rates(bumpy).iloc[0]
    assert (again["largest_stable_learning_rate"], again[f"{column}_high"]) == (1e-2, -1.0)
    table = largest_stable_table(sweep({"direct": 1e-2, "softplus": 1.0}))
    assert "| direct | 0.01 [0.01, 0.01] |" in table and "| softplus | ≥ 1 [1, 1] |" in table


THRESHOLDS = {"unstable_parameterizations": ["vanilla"], "learning_rate_gain": 0.0}
SECTION = {"baseline": "direct", "parameterizations": ["vanilla", "direct", "softplus", "exp", "best"]}
SETTINGS_BOOTSTRAP = {"resamples": 200, "seed": 0, "minimum_replicates": 3}


def verdicts(stable_up_to: dict[str, float]) -> dict[str, str]:
    claims = learning_rate_claims(SECTION, THRESHOLDS)
    largest = largest_stable_learning_rates(sweep(stable_up_to))
    table = claims_table(claims, {"learning_rate": largest}, SETTINGS_BOOTSTRAP)
    return dict(zip(table["claim"], table["verdict"], strict=True))


def test_the_learning_rate_claims_hold_fail_and_respect_the_grid():
    # best tolerates the grid's top rate (censored above), the other stable forms 0.1, direct 0.001
    assert verdicts({"vanilla": 1e-3, "direct": 1e-3, "softplus": 0.1, "exp": 0.1, "best": 1.0}) == {
        "lr-stable": "holds",
        "lr-best": "holds",
    }
    # a tie on the grid: each rate is only known to lie below the next one, so neither can be told larger
    tie = {"vanilla": 1e-3, "direct": 1e-3, "softplus": 0.1, "exp": 0.1, "best": 0.1}
    assert verdicts(tie)["lr-best"] == "inconclusive"
    assert verdicts({**tie, "direct": 0.1, "best": 1.0})["lr-stable"] == "inconclusive"
    assert verdicts({"vanilla": 1.0, "direct": 0.1, "softplus": 1e-3, "exp": 1e-3, "best": 1e-3}) == {
        "lr-stable": "does not hold",
        "lr-best": "inconclusive",
    }
    # everything stable up to the grid's top: the rates are censored, nothing can be told apart
    assert set(verdicts(dict.fromkeys(SECTION["parameterizations"], 1.0)).values()) == {"inconclusive"}
    assert [
        claim.claim
        for claim in learning_rate_claims({**SECTION, "parameterizations": ["direct", "exp"]}, THRESHOLDS)
    ] == ["lr-stable"]


def test_the_presets_sweep_at_least_the_issue_s_grid():
    """The quick preset sweeps the pol target alone (its time goes to training the main grid as far as the
    authors, docs/configuration.md); the paper preset both targets."""
    quick = load_config(REPO / "config.yaml")["learning_rate_stability"]
    paper = load_config(REPO / "config.yaml", REPO / "presets" / "paper.yaml")["learning_rate_stability"]
    for section in (quick, paper):
        rates = np.array(section["learning_rates"])
        assert rates.min() <= 1e-4 and rates.max() >= 1.0 and len(rates) >= 6 and len(section["seeds"]) >= 3
        assert {"direct", "exp", "softplus", "inverse", "best"} <= set(section["parameterizations"])
    assert quick["targets"] == ["pol"] and set(paper["targets"]) == {"exp", "pol"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"parameterizations": ["direct", "diagonal"]}, "mixes rotated and diagonal forms"),
        (
            {"baseline": "vanilla", "parameterizations": ["direct", "exp"]},
            "baseline: 'vanilla' is not allowed",
        ),
        ({"targets": ["nope"]}, "learning_rate_stability.targets: 'nope'"),
        ({"training": {"optimizer": "sgd"}}, "learning_rate_stability.training.optimizer: 'sgd'"),
    ],
)
def test_sweep_config_mistakes_name_the_key(tmp_path, change, message):
    import yaml

    from curse_of_memory.config import ConfigError

    preset = tmp_path / "preset.yaml"
    preset.write_text(yaml.safe_dump({"learning_rate_stability": change}))
    with pytest.raises(ConfigError, match=message):
        load_config(REPO / "config.yaml", preset)
