"""Shared fixtures: the repository root and float64 torch defaults."""

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _single_thread_torch():
    """Keep unit tests single-threaded and deterministic."""
    torch.set_num_threads(1)
    yield
