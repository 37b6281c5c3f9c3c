"""Config validation: presets pass, and each kind of mistake fails with a message naming the key."""

import copy

import pytest
import yaml

from curse_of_memory.config import ConfigError, load_config, validate_config
from curse_of_memory.design import cell_perturbation, cell_training, study_cells, target_data

from .conftest import REPO


@pytest.fixture
def quick():
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_presets_are_valid_and_the_paper_preset_has_the_authors_settings():
    quick = load_config(REPO / "config.yaml")
    assert quick["training"]["optimizer"] == "adamw"
    paper = load_config(REPO / "config.yaml", REPO / "presets" / "paper.yaml")
    assert paper["data"]["sizes"] == {"train": 128000, "validation": 12800, "test": 12800}
    assert (paper["training"]["batch_size"], paper["training"]["learning_rate"]) == (512, 0.01)
    assert paper["training"]["max_epochs"] == 1000 and paper["training"]["gradient_clip"] == 0.5
    assert paper["training"]["chained_early_stopping"]["enabled"]
    # the code that drew Figures 7 and 8: 3 draws, the recurrent weight shifted by -beta, the authors' margin
    for preset in (quick, paper):
        assert preset["perturbation"]["draws"] == 3 and preset["perturbation"]["recurrent"] == "shift"
        assert preset["training"]["margin_penalty"]["margin"] == "smallest_positive_mode"
    assert paper["worst_case"]["norms"] == ["max", "spectral"] and paper["worst_case"]["starts"] == 3
    # Figure 9 / Table 1: full MNIST split 55,000 / 5,000 / 10,000, 10 epochs, 3 repeats
    figure9 = paper["classification"]
    assert (figure9["dataset"], figure9["epochs"], len(figure9["seeds"])) == ("idx", 10, 3)
    assert figure9["sizes"] == {"train": None, "validation": 5000, "test": None}
    assert set(figure9["parameterizations"]) >= {"direct", "exp", "inverse", "softplus"}
    # Figure 2's grid: trained on t = 0.1 ... 3.2 (dt = 0.1), evaluated to t = 10
    figure2 = paper["targets"]["nonlinear_pol"]["data"]
    assert (figure2["dt"], figure2["sequence_length"], figure2["test_sequence_length"]) == (0.1, 32, 100)
    # the chained stop of the authors' lf_all.sh in both presets
    for preset in (quick, paper):
        chained = preset["training"]["chained_early_stopping"]
        assert (chained["first_threshold"], chained["minimum_epochs"], chained["factor"]) == (100.0, 2, 0.5)
        assert chained["minimum_steps"] == 500  # the authors' 2 epochs of 250 steps, at every data size
    assert (
        min(
            len(quick["grid"]["seeds"]),
            *(len(quick["studies"][s]["seeds"]) for s in ("nonlinear", "teacher_transformer")),
        )
        >= 3
    )
    tiny = load_config(REPO / "config.yaml", REPO / "tests" / "config.tiny.yaml")
    assert tiny["grid"]["widths"] == [4, 8]


def test_the_figures_7_8_preset_trains_as_the_paper_preset_and_leaves_the_other_studies_out():
    """presets/paper-figures78.yaml over the paper preset: its cells train exactly as the paper preset's
    same cells, and a study set to null is gone (merging alone cannot delete it)."""
    paper = load_config(REPO / "config.yaml", REPO / "presets" / "paper.yaml")
    figures78 = load_config(
        REPO / "config.yaml", REPO / "presets" / "paper.yaml", REPO / "presets" / "paper-figures78.yaml"
    )
    assert figures78["studies"] == {} and paper["studies"]
    assert figures78["data"] == paper["data"] and figures78["perturbation"] == paper["perturbation"]
    cells = study_cells(figures78)
    assert {c["activation"] for c in cells} == {"relu", "hardtanh", "tanh"}
    assert len(cells) == 2 * 3 * 2 * 4 * 3  # targets x activations x forms x widths x seeds
    for cell in cells:
        assert cell_training(figures78, cell) == cell_training(paper, cell)


def test_defaults_fill_missing_keys():
    figure = {"target": "exp", "activation": "relu", "activations": ["tanh"]}
    config = validate_config(
        {
            "targets": {"exp": {"memory": "exp"}},
            "grid": {"targets": ["exp"]},
            "figures": {
                "fig7": {k: figure[k] for k in ("target", "activation")},
                "fig8": {k: figure[k] for k in ("target", "activations")},
            },
        }
    )
    assert config["training"]["scheduler"] == {"factor": 0.1, "patience": 10}
    assert config["targets"]["exp"]["scale"] == 1.0
    assert config["perturbation"]["betas"]["count"] == 21


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda c: c["training"].update(lerning_rate=0.1),
            r"training: unknown key\(s\) \['lerning_rate'\]; allowed keys: \[.*'learning_rate'",
        ),
        (
            lambda c: c["grid"].update(activations=["sigmoid"]),
            r"grid.activations: 'sigmoid' is not allowed; "
            r"allowed values: \['hardtanh', 'linear', 'relu', 'tanh'\]",
        ),
        (
            lambda c: c["grid"].update(parameterizations=["cayley"]),
            r"grid.parameterizations: 'cayley' .*allowed values: .*'softplus'",
        ),
        (
            lambda c: c["targets"]["exp"].update(memory="gauss"),
            r"targets.exp.memory: 'gauss' .*allowed values: .*'pol'",
        ),
        (
            lambda c: c["targets"]["pol"]["parameters"].update(exponent=2),
            r"targets.pol.parameters: 'exponent' .*allowed values: \['power', 'scale'\]",
        ),
        (
            lambda c: c["grid"].update(targets=["exp", "nope"]),
            r"grid.targets: 'nope' .*allowed values: \['exp', 'exp_lstsq', .*'pol'",
        ),
        (
            lambda c: c["grid"].update(widths=[8, 0]),
            r"grid.widths.1: 0 is less than the minimum of 1",
        ),
        (lambda c: c["grid"].update(widths=[-4]), r"grid.widths.0: -4 is less than the minimum"),
        (lambda c: c["grid"].update(widths=[]), r"grid.widths: \[\] should be non-empty"),
        (
            lambda c: c["worst_case"].update(starts=4),
            r"worst_case.starts: 4 exceeds perturbation.draws \(3\); allowed values: 1..3",
        ),
        (
            lambda c: c["worst_case"].update(ascent_size=513),
            r"worst_case.ascent_size: 513 exceeds perturbation.evaluation_size \(512\)",
        ),
        (
            lambda c: c["worst_case"].update(norms=["frobenius"]),
            r"worst_case.norms.0: 'frobenius' is not allowed; allowed values: \['max', 'spectral'\]",
        ),
        (
            lambda c: c["perturbation"]["betas"].update(ratio=0.5),
            r"perturbation.betas.ratio: 0.5 is less than or equal to the minimum of 1",
        ),
        (
            lambda c: c["perturbation"]["betas"].update(start=-1e-3),
            r"perturbation.betas.start: -0.001 is less than or equal to the minimum of 0",
        ),
        (
            lambda c: c["training"].update(optimizer="sgd"),
            r"training.optimizer: 'sgd' is not allowed; allowed values: \['adamw', 'adam'\]",
        ),
        (
            lambda c: c["training"].update(batch_size=10**6),
            r"training.batch_size: 1000000 exceeds data.sizes.train",
        ),
        (
            lambda c: c["perturbation"].update(evaluation_size=10**6),
            r"perturbation.evaluation_size: 1000000 exceeds data.sizes.test",
        ),
        (
            lambda c: c["training"].update(max_epochs="ten"),
            r"training.max_epochs: 'ten' is not of type 'integer'",
        ),
        (
            lambda c: c["figures"]["fig7"].update(activation="sigmoid"),
            r"figures.fig7.activation: 'sigmoid'",
        ),
        (
            lambda c: c["studies"]["teacher_rnn"]["targets"].append("pol"),
            r"studies.teacher_rnn.targets: 'pol' already belongs to study 'trained'",
        ),
        (
            lambda c: c["lstsq"]["targets"].append("nonlinear_pol"),
            r"lstsq.targets: 'nonlinear_pol' is not of kind 'linear'",
        ),
        (
            lambda c: c["targets"]["teacher_r05"]["parameters"].update(radious=0.5),
            r"targets.teacher_r05.parameters: 'radious' .*allowed values: .*'radius'",
        ),
        (
            lambda c: c["targets"]["nonlinear_pol"].pop("memory"),
            r"targets.nonlinear_pol.memory: required for kind 'nonlinear'",
        ),
        (
            lambda c: c["targets"]["exp"].update(kind="wavelet"),
            r"targets.exp.kind: 'wavelet' .*allowed values: .*'teacher_rnn'",
        ),
        (
            lambda c: c["studies"]["nonlinear"]["training"].update(optimiser="adam"),
            r"studies.nonlinear.training: unknown key\(s\) \['optimiser'\]",
        ),
        (
            lambda c: c["targets"]["nonlinear_pol"].update(data={"sizes": {"test": 4}}),
            r"perturbation.evaluation_size: 512 exceeds data.sizes.test of target 'nonlinear_pol'",
        ),
        (
            lambda c: c.update(extra_section={}),
            r"<top level>: unknown key\(s\) \['extra_section'\]",
        ),
        (
            lambda c: c["classification"]["parameterizations"].append("cayley"),
            r"classification.parameterizations: 'cayley' .*allowed values: .*'inverse'",
        ),
        (
            lambda c: c["classification"].update(baseline="vanilla"),
            r"classification.baseline: 'vanilla' .*allowed values: .*'direct'",
        ),
        (
            lambda c: c["classification"]["parameterizations"].append("diagonal"),
            r"classification.parameterizations: mixes rotated and diagonal forms",
        ),
        (
            lambda c: c["classification"].update(claim_epoch=9),
            r"classification.claim_epoch: 9 exceeds epochs \(4\)",
        ),
        (
            lambda c: c["classification"].update(initial_eigenvalues={"low": 0.5, "high": 0.1}),
            r"classification.initial_eigenvalues: low exceeds high",
        ),
        (
            lambda c: c["classification"].update(dataset="cifar10"),
            r"classification.dataset: 'cifar10' is not allowed; allowed values: .*'idx'",
        ),
    ],
)
@pytest.mark.reliability
def test_mistakes_fail_with_a_message_naming_the_key(quick, mutate, expected):
    config = copy.deepcopy(quick)
    mutate(config)
    with pytest.raises(ConfigError, match=expected):
        validate_config(config)


@pytest.mark.reliability
def test_a_preset_file_with_a_typo_fails_naming_the_key(tmp_path):
    preset = tmp_path / "preset.yaml"
    preset.write_text("perturbation:\n  drawz: 30\n")
    with pytest.raises(
        ConfigError, match=r"perturbation: unknown key\(s\) \['drawz'\]; allowed keys: .*'draws'"
    ):
        load_config(REPO / "config.yaml", preset)


def test_study_cells_take_their_study_settings_over_the_top_level():
    config = load_config(REPO / "config.yaml", REPO / "presets" / "paper.yaml")
    nonlinear = {
        "target": "nonlinear_pol",
        "activation": "tanh",
        "parameterization": "vanilla",
        "width": 8,
        "seed": 0,
    }
    main = {"target": "pol", "activation": "tanh", "parameterization": "vanilla", "width": 8, "seed": 0}
    training = cell_training(config, nonlinear)
    assert (training["optimizer"], training["learning_rate"], training["loss_weight_power"]) == (
        "adam",
        0.005,
        0,
    )
    assert training["gradient_clip"] == config["training"]["gradient_clip"]  # not set by the study
    assert cell_training(config, main)["optimizer"] == "adamw"
    perturbation = cell_perturbation(config, nonlinear)
    assert perturbation["betas"]["start"] == 1e-11 and perturbation["draws"] == 3
    assert cell_perturbation(config, main) == config["perturbation"]
    assert target_data(config, "nonlinear_pol")["sizes"]["train"] == 12800
    assert target_data(config, "pol")["sizes"]["train"] == 128000
    cells = study_cells(config, "teacher_rnn")
    assert len(cells) == 10 * 4 and {cell["study"] for cell in cells} == {"teacher_rnn"}
    assert len(study_cells(config)) == 3 * 96 + 3 * 5 + 40 + 3 * 4  # 3 seeds but Figure 3's teachers


def test_a_norm_given_to_cell_perturbation_replaces_only_the_norm():
    config = load_config(REPO / "config.yaml")
    cell = {
        "study": "trained",
        "target": "pol",
        "activation": "tanh",
        "parameterization": "softplus",
        "width": 8,
    }
    configured = cell_perturbation(config, cell)
    spectral = cell_perturbation(config, cell, "spectral")
    assert configured["norm"] == "max" and spectral["norm"] == "spectral"
    assert {**spectral, "norm": "max"} == configured
    assert config["figures"]["spectral_norm"]  # the quick preset draws Figures 7 and 8 at both norms


def test_the_configuration_reference_is_generated_from_the_schema_and_the_presets():
    """docs/config-reference.md holds every default and both presets' values once, written from their only
    sources (`python -m curse_of_memory.config_reference`): editing a default or a preset without
    regenerating it fails here."""
    from curse_of_memory.config_reference import PAGE, reference_page

    page = reference_page()
    assert PAGE.read_text() == page, "stale: run python -m curse_of_memory.config_reference"
    quick = load_config(REPO / "config.yaml")
    assert f"| `data.sizes.train` | `4096` | `{quick['data']['sizes']['train']}` | `128000` |" in page
    for section in ("training", "perturbation", "cluster", "figures"):
        assert all(
            f"| `{section}.{key}` |" in page
            for key in quick[section]
            if not isinstance(quick[section][key], dict)
        )
