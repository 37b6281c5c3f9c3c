"""The classification study (Figure 9, Table 1): IDX files, the seeded split, pixel sequences, the same
initial weights under every parameterisation, the last-state fast path, training and its tables."""

import gzip
import math
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from curse_of_memory import classification
from curse_of_memory.classification import (
    ClassificationSettings,
    SequenceClassifier,
    evaluate,
    train_classifier,
)
from curse_of_memory.classification_tables import at_epoch, mean_and_error, standard_error, table_one
from curse_of_memory.image_sequences import DatasetError, pixel_sequences, read_idx, split_indices
from curse_of_memory.models import PARAMETERIZATIONS, RNN
from curse_of_memory.recurrence import STEPPED

FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist (CI installs it)


def write_idx(path: Path, array: np.ndarray, code: int = 0x08, compress: bool = False) -> Path:
    """An IDX file as LeCun's format has it: zero half-word, type, dimensions, big-endian sizes, data."""
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0E: ">f8"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + np.asarray(array, dtype=dtype).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def digits(tmp_path: Path, count: int, seed: int, part: str) -> dict[str, str]:
    """``count`` random 5×4 images with labels 0..9, as two IDX files of ``part``."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, 5, 4), dtype=np.uint8)
    labels = rng.integers(0, 10, count, dtype=np.uint8)
    return {
        f"{part}_images": str(write_idx(tmp_path / f"{part}-images.gz", images, compress=True)),
        f"{part}_labels": str(write_idx(tmp_path / f"{part}-labels", labels)),
    }


@pytest.mark.parametrize("code", [0x08, 0x0C, 0x0E])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_files_read_back_as_written(tmp_path, code, compress):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4) * (1 if code != 0x0E else 0.5)
    read = read_idx(write_idx(tmp_path / "a.idx", array, code, compress), "train_images")
    assert read.shape == (2, 3, 4) and np.array_equal(read, array)


def test_a_missing_or_malformed_idx_file_names_its_config_key(tmp_path):
    with pytest.raises(DatasetError, match=r"classification\.idx\.test_labels: no file"):
        read_idx(tmp_path / "absent", "test_labels")
    good = write_idx(tmp_path / "good", np.zeros((3, 2, 2), dtype=np.uint8)).read_bytes()
    cases = {
        "magic": b"\x01" + good[1:],
        "type": good[:2] + b"\x07" + good[3:],
        "size": good[:-1],
        "header": good[:6],
    }
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(DatasetError, match=r"classification\.idx\.train_images: "):
            read_idx(tmp_path / name, "train_images")
    with pytest.raises(DatasetError, match=r"classification\.idx\.train_images: dataset 'idx' needs a path"):
        pixel_sequences("idx", {}, {"train": None, "validation": 1, "test": None}, 0)


def test_images_and_labels_that_do_not_match_fail_with_the_key(tmp_path):
    idx = {**digits(tmp_path, 20, 0, "train"), **digits(tmp_path, 10, 1, "test")}
    idx["test_labels"] = str(write_idx(tmp_path / "short", np.zeros(9, dtype=np.uint8)))
    with pytest.raises(DatasetError, match=r"classification\.idx\.test_images: .* do not match"):
        pixel_sequences("idx", idx, {"train": None, "validation": 5, "test": None}, 0)


def test_the_split_is_seeded_disjoint_and_of_the_asked_sizes():
    sizes = {"train": None, "validation": 20, "test": 30}
    first, again = split_indices({"pool": 100}, sizes, 3), split_indices({"pool": 100}, sizes, 3)
    other = split_indices({"pool": 100}, sizes, 4)
    assert all(np.array_equal(first[s][1], again[s][1]) for s in first)
    assert not np.array_equal(first["train"][1], other["train"][1])
    taken = np.concatenate([first[s][1] for s in first])
    assert len(taken) == len(set(taken)) == 100 and len(first["train"][1]) == 50
    parts = split_indices({"train": 60, "test": 40}, {"train": None, "validation": 10, "test": 25}, 0)
    assert {s: (p, len(i)) for s, (p, i) in parts.items()} == {
        "test": ("test", 25),
        "validation": ("train", 10),
        "train": ("train", 50),
    }
    assert not set(parts["validation"][1]) & set(parts["train"][1])
    with pytest.raises(DatasetError, match=r"classification\.sizes\.train: 90 images asked, 80 left"):
        split_indices({"pool": 100}, {"train": 90, "validation": 10, "test": 10}, 0)


def test_pixel_sequences_are_scan_lines_standardised_by_the_training_images(tmp_path):
    idx = {**digits(tmp_path, 30, 0, "train"), **digits(tmp_path, 12, 1, "test")}
    arrays, metadata = pixel_sequences("idx", idx, {"train": None, "validation": 6, "test": None}, 7)
    assert arrays["x_train"].shape == (24, 20) and arrays["x_test"].shape == (12, 20)
    assert abs(arrays["x_train"].mean()) < 1e-12 and abs(arrays["x_train"].std() - 1) < 1e-12
    # the first test image, row by row, scaled and standardised with the training statistics
    images, labels = read_idx(idx["test_images"], "test_images"), read_idx(idx["test_labels"], "test_labels")
    order = split_indices({"train": 30, "test": 12}, {"train": None, "validation": 6, "test": None}, 7)
    first = order["test"][1][0]
    expected = (images[first].reshape(-1) / 255.0 - metadata["pixel_mean"]) / metadata["pixel_std"]
    assert np.allclose(arrays["x_test"][0], expected) and arrays["y_test"][0] == labels[first]
    assert metadata["classes"] == 10 and metadata["sequence_length"] == 20


def test_the_bundled_digits_load_without_network():
    arrays, metadata = pixel_sequences("digits_8x8", {}, {"train": 100, "validation": 50, "test": 50}, 0)
    assert arrays["x_train"].shape == (100, 64) and metadata["classes"] == 10
    assert set(np.unique(arrays["y_train"])) <= set(range(10))


@pytest.mark.skipif(not FASHION_MNIST.is_dir(), reason="Debian's dataset-fashion-mnist is not installed")
def test_full_size_idx_files_give_the_papers_split():
    idx = {
        f"{part}_{kind}": str(FASHION_MNIST / f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte.gz")
        for part, prefix in (("train", "train"), ("test", "t10k"))
        for kind in ("images", "labels")
    }
    arrays, metadata = pixel_sequences("idx", idx, {"train": None, "validation": 5000, "test": None}, 0)
    assert metadata["sizes"] == {"test": 10000, "validation": 5000, "train": 55000}
    assert arrays["x_train"].shape == (55000, 784) and metadata["classes"] == 10
    assert np.bincount(arrays["y_test"]).tolist() == [1000] * 10  # Fashion-MNIST's balanced test set


def test_every_parameterisation_inverts_its_eigenvalue_map():
    eigenvalues = torch.linspace(1e-3, 2.0, 101, dtype=torch.float64)
    for name, form in PARAMETERIZATIONS.items():
        assert torch.allclose(form.eigenvalue_map(form.g_inverse(eigenvalues)), eigenvalues, rtol=1e-12), name
    with pytest.raises(ValueError, match=r"\(0, 2\]"):
        RNN(4, "tanh", "best").set_eigenvalues_(torch.full((4,), 2.5, dtype=torch.float64))


def test_inverse_keeps_its_eigenvalues_in_0_2_and_direct_is_free():
    model = RNN(3, "tanh", "inverse")
    with torch.no_grad():
        model.recurrent_raw.copy_(torch.tensor([0.1, 0.5, 4.0]))
    model.project_()
    assert model.recurrent_raw.tolist() == [0.5, 0.5, 4.0] and model.eigenvalues().max() <= 2.0
    direct = RNN(3, "tanh", "direct")
    with torch.no_grad():
        direct.recurrent_raw.copy_(torch.tensor([-1.0, 0.0, 1.0]))
    assert direct.project_().eigenvalues().tolist() == [-1.0, 0.0, 1.0]  # no constraint: W = M


@pytest.mark.parametrize("seed", [0, 5])
def test_every_parameterisation_of_a_seed_starts_from_the_same_weights(seed):
    rotated = [name for name, form in PARAMETERIZATIONS.items() if form.rotated]  # W = Pᵀ diag(g(w)) P
    models = {p: SequenceClassifier(6, "tanh", p, 10, seed, (0.01, 1.0)) for p in rotated}
    reference = models["direct"]
    for name, model in models.items():
        for parameter in ("input_weight", "input_bias"):
            assert torch.equal(getattr(model.rnn, parameter), getattr(reference.rnn, parameter)), name
        assert torch.equal(model.readout_weight, reference.readout_weight)
        assert torch.equal(model.readout_bias, reference.readout_bias)
        assert torch.allclose(model.rnn.recurrent_matrix(), reference.rnn.recurrent_matrix(), atol=1e-14), (
            name
        )
    eigenvalues = reference.rnn.eigenvalues()
    assert eigenvalues.min() >= 0.01 and eigenvalues.max() <= 1.0
    other = SequenceClassifier(6, "tanh", "direct", 10, seed + 1, (0.01, 1.0))
    assert not torch.allclose(other.rnn.recurrent_matrix(), reference.rnn.recurrent_matrix())
    inputs = torch.randn(5, 30, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    logits = {name: model(inputs) for name, model in models.items()}
    assert all(torch.allclose(value, logits["direct"], rtol=1e-10) for value in logits.values())
    assert not models["softplus"].rnn.output_weight.requires_grad  # the scalar decoder is not trained


@pytest.mark.parametrize("activation", [*STEPPED, "linear"])
@pytest.mark.parametrize("parameterization", ["direct", "diagonal", "softplus", "inverse"])
def test_the_last_state_and_its_gradients_equal_the_reference_loop(activation, parameterization):
    model = RNN(5, activation, parameterization, seed=3)
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(4, 37, 1, dtype=torch.float64, generator=generator)
    weights = torch.randn(4, 5, dtype=torch.float64, generator=generator)
    *_, reference = model._reference_states(inputs)
    (reference[0] * weights).sum().backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    final = model.final_states(inputs)
    (final * weights).sum().backward()
    gradients = {name: p.grad for name, p in model.named_parameters() if p.grad is not None}
    scale = reference.abs().max().item()
    assert torch.allclose(final, reference[0], rtol=1e-12, atol=1e-12 * scale)
    assert (
        set(gradients)
        == set(expected)
        == {"input_weight", "input_bias", "recurrent_raw"}
        | ({"rotation"} if PARAMETERIZATIONS[parameterization].rotated else set())
    )
    for name, gradient in gradients.items():
        assert torch.allclose(
            gradient, expected[name], rtol=1e-10, atol=1e-10 * expected[name].abs().max()
        ), name
    with torch.no_grad():
        assert torch.allclose(model.final_states(inputs), reference[0], rtol=1e-12, atol=1e-12 * scale)


def sum_task(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences of 12 steps whose class is whether their sum is positive: the whole sequence matters."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(count, 12, 1, dtype=torch.float64, generator=generator)
    return inputs, (inputs[:, :, 0].sum(1) > 0).long()


SETTINGS = ClassificationSettings(
    epochs=6, batch_size=32, learning_rate=0.02, weight_decay=0.0, evaluation_batch_size=64
)


def test_training_learns_a_memory_task_and_keeps_its_best_epoch():
    splits = {"train": sum_task(256, 0), "validation": sum_task(128, 1)}
    model = SequenceClassifier(8, "tanh", "softplus", 2, 0, (0.01, 0.1))
    rows = []
    history, best_state, best_epoch = train_classifier(model, splits, SETTINGS, 0, report=rows.append)
    assert [row["epoch"] for row in history] == list(range(7)) and rows == history
    assert history[-1]["validation_accuracy"] > 0.8 > history[0]["validation_accuracy"]
    accuracies = [row["validation_accuracy"] for row in history[1:]]
    assert best_epoch == 1 + accuracies.index(max(accuracies))
    model.load_state_dict(best_state)
    assert evaluate(model, *splits["validation"], 64)[1] == max(accuracies)


class SimulatedCrashError(RuntimeError):
    pass


@pytest.mark.reliability
def test_a_classifier_killed_mid_run_resumes_to_the_uninterrupted_result_bit_for_bit(tmp_path, monkeypatch):
    splits = {"train": sum_task(128, 0), "validation": sum_task(64, 1)}
    uninterrupted = train_classifier(
        SequenceClassifier(6, "tanh", "softplus", 2, 0, (0.01, 0.1)), splits, SETTINGS, 0
    )
    resume = tmp_path / "resume.pt"
    real_evaluate, calls = classification.evaluate, {"count": 0}

    def crash_in_epoch_four(*args):  # evaluations: the initialisation's two, then one per epoch
        calls["count"] += 1
        if calls["count"] == 6:
            raise SimulatedCrashError
        return real_evaluate(*args)

    monkeypatch.setattr(classification, "evaluate", crash_in_epoch_four)
    with pytest.raises(SimulatedCrashError):
        train_classifier(
            SequenceClassifier(6, "tanh", "softplus", 2, 0, (0.01, 0.1)),
            splits,
            SETTINGS,
            0,
            resume_path=resume,
        )
    monkeypatch.setattr(classification, "evaluate", real_evaluate)
    rows = []
    resumed = train_classifier(
        SequenceClassifier(6, "tanh", "softplus", 2, 0, (0.01, 0.1)), splits, SETTINGS, 0, rows.append, resume
    )
    assert resumed[0] == uninterrupted[0] == rows and resumed[2] == uninterrupted[2]
    for name, tensor in uninterrupted[1].items():
        assert torch.equal(tensor, resumed[1][name]), name
    # another start (initial eigenvalues) is another run: its resume file is not read
    other = train_classifier(
        SequenceClassifier(6, "tanh", "softplus", 2, 0, (0.02, 0.2)), splits, SETTINGS, 0, resume_path=resume
    )
    assert [row["epoch"] for row in other[0]] == list(range(SETTINGS.epochs + 1)) and other[
        0
    ] != uninterrupted[0]


def test_a_diverging_run_ends_cleanly_with_a_nan_row_and_the_weights_before():
    splits = {"train": sum_task(64, 0), "validation": sum_task(32, 1)}
    model = SequenceClassifier(4, "relu", "direct", 2, 0, (0.01, 0.1))
    settings = ClassificationSettings(
        epochs=5, batch_size=16, learning_rate=1e30, weight_decay=0.0, evaluation_batch_size=32
    )
    history, best_state, best_epoch = train_classifier(model, splits, settings, 0)
    assert math.isnan(history[-1]["train_loss"]) and len(history) <= 6
    assert all(torch.isfinite(value).all() for value in best_state.values())
    assert best_epoch == max(0, len(history) - 2)  # the initialisation when the first epoch diverged


def test_tables_give_mean_and_standard_error_over_seeds_and_count_divergence():
    test = pd.DataFrame(
        {
            "dataset": "d",
            "parameterization": ["direct"] * 3 + ["exp"] * 3,
            "width": 8,
            "seed": [0, 1, 2] * 2,
            "test_loss": [1.0, 2.0, 4.0, 0.5, 0.5, 0.5],
            "test_accuracy": [0.5, 0.6, 0.7, 0.9, 0.8, 0.7],
            "best_epoch": 1,
            "diverged": [False, True, False, False, False, False],
        }
    )
    assert standard_error(pd.Series([1.0, 2.0, 4.0])) == pytest.approx(
        np.std([1, 2, 4], ddof=1) / math.sqrt(3)
    )
    assert math.isnan(standard_error(pd.Series([1.0])))
    summary = mean_and_error(test, ["parameterization"], ["test_loss"]).set_index("parameterization")
    assert (
        summary.loc["direct", "test_loss"] == pytest.approx(7 / 3) and summary.loc["exp", "test_loss_se"] == 0
    )
    table = table_one(test).set_index("parameterization")
    assert table.loc["direct", "test accuracy"] == "60.00% ± 5.77%" and table.loc["direct", "diverged"] == 1
    assert table.loc["exp", "test loss"] == "0.5000 ± 0.0000" and table.loc["exp", "seeds"] == 3


def test_claim_rows_count_a_run_diverged_by_an_epoch_as_infinitely_bad():
    history = pd.DataFrame(
        {
            "dataset": "d",
            "parameterization": ["direct", "direct", "direct", "exp", "exp", "exp"],
            "width": 8,
            "seed": 0,
            "epoch": [0, 1, 2, 0, 1, 2],
            "validation_loss": [2.3, np.nan, np.nan, 2.3, 1.0, 0.9],
        }
    )
    history = history.drop(index=2)  # direct stopped after its NaN epoch
    rows = at_epoch(history, 2).set_index("parameterization")
    assert rows.loc["direct", "validation_loss"] == np.inf and rows.loc["exp", "validation_loss"] == 0.9
    assert list(at_epoch(history, 0)["validation_loss"]) == [2.3, 2.3]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_classifier_trains_on_cuda_as_on_the_cpu():
    """The GPU path (the reference loop under autograd) gives the CPU path's logits and training history."""
    splits = {"train": sum_task(64, 0), "validation": sum_task(32, 1)}
    settings = ClassificationSettings(
        epochs=2, batch_size=16, learning_rate=0.01, weight_decay=0.0, evaluation_batch_size=32
    )
    cpu, cuda = (SequenceClassifier(8, "tanh", "softplus", 2, 0, (0.01, 0.1)) for _ in range(2))
    cuda = cuda.cuda()
    inputs = splits["train"][0][:8]
    torch.testing.assert_close(cuda(inputs.cuda()).cpu(), cpu(inputs), rtol=1e-10, atol=1e-12)
    on_cuda = {split: (x.cuda(), y.cuda()) for split, (x, y) in splits.items()}
    cpu_history = train_classifier(cpu, splits, settings, 0)[0]
    cuda_history = train_classifier(cuda, on_cuda, settings, 0)[0]
    for cpu_row, cuda_row in zip(cpu_history, cuda_history, strict=True):
        assert cuda_row["validation_loss"] == pytest.approx(cpu_row["validation_loss"], rel=1e-6)
