"""Randomly initialised sequence models for Figure 10: torch's RNN/GRU/LSTM and a diagonal SSM (S4D).

Each model maps (batch, time, 1) → (batch, time, 1) through ``layers`` stacked layers of ``hidden``
features and a random linear readout, in float64, from a seed; :func:`random_model` returns it
wrapped by :func:`curse_of_memory.memory.as_sequence_model`, ready for either memory definition.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from curse_of_memory.memory import SequenceModel, as_sequence_model


class S4DLayer(nn.Module):
    """A diagonal state-space layer (S4D-Lin initialisation, zero-order-hold discretisation).

    Per feature channel ``h``: ``x' = A x + B u``, ``y = 2 Re(C x) + D u`` with ``state`` complex modes
    ``A_n = −1/2 + iπn``, ``B = 1``, ``C ~ CN(0, 1)``, step ``Δ ~ logU(1e-3, 1e-1)``. Computed as the causal
    convolution with the kernel ``K_k = 2 Re Σ_n C_n B̄_n Ā_n^k`` by FFT (a linear time-invariant map),
    followed by GELU and a residual connection, as in S4D's blocks.
    """

    def __init__(self, features: int, state: int = 32, generator: torch.Generator | None = None) -> None:
        super().__init__()
        modes = state // 2
        real = torch.full((features, modes), -0.5, dtype=torch.float64)
        imaginary = math.pi * torch.arange(modes, dtype=torch.float64).repeat(features, 1)
        self.a = torch.complex(real, imaginary)
        self.c = torch.complex(
            torch.randn(features, modes, generator=generator, dtype=torch.float64),
            torch.randn(features, modes, generator=generator, dtype=torch.float64),
        ) / math.sqrt(2.0)
        log_step = torch.rand(features, 1, generator=generator, dtype=torch.float64) * math.log(100.0)
        self.step = (log_step + math.log(1e-3)).exp()
        self.d = torch.randn(features, generator=generator, dtype=torch.float64)
        self.mix = nn.Linear(features, features, dtype=torch.float64)

    def kernel(self, length: int) -> Tensor:
        """``K_k`` for k < length, (features, length), float64."""
        step_a = self.step * self.a
        b_bar = (torch.exp(step_a) - 1.0) / self.a
        powers = torch.exp(step_a[..., None] * torch.arange(length, dtype=torch.float64))
        return 2.0 * torch.einsum("hn,hnk->hk", self.c * b_bar, powers).real

    def forward(self, inputs: Tensor) -> Tensor:
        """(batch, time, features) → (batch, time, features)."""
        length = inputs.shape[1]
        signal = inputs.transpose(1, 2)
        spectrum = torch.fft.rfft(signal, n=2 * length) * torch.fft.rfft(self.kernel(length), n=2 * length)
        outputs = torch.fft.irfft(spectrum, n=2 * length)[..., :length] + self.d[:, None] * signal
        return inputs + self.mix(nn.functional.gelu(outputs.transpose(1, 2)))


class S4D(nn.Module):
    """``layers`` S4D layers after a linear encoder 1 → ``features``."""

    def __init__(self, features: int, layers: int, generator: torch.Generator) -> None:
        super().__init__()
        self.encoder = nn.Linear(1, features, dtype=torch.float64)
        self.layers = nn.ModuleList(S4DLayer(features, generator=generator) for _ in range(layers))

    def forward(self, inputs: Tensor) -> Tensor:
        hidden = self.encoder(inputs)
        for layer in self.layers:
            hidden = layer(hidden)
        return hidden


def _torch_recurrent(family: str, hidden: int, layers: int) -> nn.Module:
    module = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[family]
    return module(1, hidden, num_layers=layers, batch_first=True, dtype=torch.float64)


#: The model families of Figure 10.
FAMILIES = ("rnn", "gru", "lstm", "s4d")


def random_model(family: str, layers: int, hidden: int, seed: int) -> SequenceModel:
    """A seeded, randomly initialised ``family`` model (torch's default init) as a sequence model."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; allowed: {list(FAMILIES)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        body = S4D(hidden, layers, generator) if family == "s4d" else _torch_recurrent(family, hidden, layers)
        readout = nn.Linear(hidden, 1, dtype=torch.float64)
    body.eval()
    return as_sequence_model(body, readout)
