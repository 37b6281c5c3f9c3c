"""Process set-up shared by the workflow scripts: logging into the rule's log, torch threads, device
(torch imported by :func:`configure_torch` alone, so that a job without a model imports none)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def configure_logging(log_path: str | Path | None) -> logging.Logger:
    """Send INFO-level records (and uncaught exceptions) to the rule's log file, or to stderr."""
    handler: logging.Handler = (
        logging.FileHandler(log_path, mode="w") if log_path else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("matplotlib").setLevel(logging.WARNING)

    def log_uncaught(kind, value, traceback):  # noqa: ANN001 - sys.excepthook signature
        root.error("uncaught exception", exc_info=(kind, value, traceback))
        sys.__excepthook__(kind, value, traceback)

    sys.excepthook = log_uncaught
    return root


def configure_torch(threads: int, device: str = "cpu") -> torch.device:
    """Use ``threads`` intra-op threads (the rule's ``threads``) and resolve ``cpu|cuda|auto``."""
    import torch

    torch.set_num_threads(max(1, int(threads)))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("training.device is 'cuda' but torch sees no CUDA device")
    return torch.device(device)
