"""Randomly initialised teacher models used as nonlinear targets (Figures 3 and 12).

Both are built from torch's own modules, in float64, from a seeded generator, so a teacher is fully
determined by its parameters. Each is rescaled so that its output has unit standard deviation on a
fixed calibration batch of white-noise inputs: students of every teacher then face targets of the
same size, and the relative errors of the stability summaries compare across teachers.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

#: Calibration batch for the output scale: sequences × steps of N(0, 1) inputs from a fixed seed.
CALIBRATION_SHAPE = (256, 100)


def _calibrate(module: nn.Module, readout: nn.Linear) -> None:
    """Divide ``readout`` so that ``module``'s outputs have unit std on the calibration batch."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(*CALIBRATION_SHAPE, 1, generator=generator, dtype=torch.float64)
    with torch.no_grad():
        scale = module(inputs).std()
        if scale > 0:
            readout.weight /= scale
            readout.bias /= scale


class TeacherRNN(nn.Module):
    """A random tanh Elman RNN ``h_k = tanh(W h_{k−1} + u x_k + b)``, ``y_k = cᵀ h_k + c_0``.

    ``W`` is a Gaussian matrix rescaled to spectral radius ``radius``: below 1 the origin is a
    contracting fixed point and the memory decays exponentially (faster for smaller radii); above 1
    the driven dynamics can be chaotic or oscillating and the memory need not decay. This spread of
    radii is how the teacher population spans short, long and non-decaying memory.
    """

    def __init__(self, width: int = 64, radius: float = 0.9, bias_std: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        width = int(width)
        generator = torch.Generator().manual_seed(int(seed))
        self.rnn = nn.RNN(1, width, nonlinearity="tanh", batch_first=True, dtype=torch.float64)
        self.readout = nn.Linear(width, 1, dtype=torch.float64)
        recurrent = torch.randn(width, width, generator=generator, dtype=torch.float64)
        recurrent *= radius / torch.linalg.eigvals(recurrent).abs().max()
        with torch.no_grad():
            self.rnn.weight_hh_l0.copy_(recurrent)
            self.rnn.weight_ih_l0.copy_(torch.randn(width, 1, generator=generator, dtype=torch.float64))
            self.rnn.bias_ih_l0.copy_(bias_std * torch.randn(width, generator=generator, dtype=torch.float64))
            self.rnn.bias_hh_l0.zero_()
            self.readout.weight.copy_(
                torch.randn(1, width, generator=generator, dtype=torch.float64) / math.sqrt(width)
            )
            self.readout.bias.zero_()
        self.eval()
        _calibrate(self, self.readout)

    def forward(self, inputs: Tensor) -> Tensor:
        """(batch, time, 1) → (batch, time, 1)."""
        return self.readout(self.rnn(inputs)[0])


def relative_position_bias(length: int, heads: int) -> Tensor:
    """Causal attention biases (heads, length, length) of ALiBi (Press et al., 2022): query ``i`` adds
    ``−slope_h · (i − j)`` to its score for key ``j ≤ i`` and ``−∞`` for ``j > i``, with the geometric slopes
    ``slope_h = 2^{−8h/heads}``, h = 1..heads. It depends on ``i − j`` only, so the map stays
    time-homogeneous."""
    slopes = 2.0 ** (-8.0 * torch.arange(1, heads + 1, dtype=torch.float64) / heads)
    position = torch.arange(length, dtype=torch.float64)
    distance = position[:, None] - position[None, :]
    bias = -slopes[:, None, None] * distance
    return bias.masked_fill(distance < 0, -math.inf)


class TeacherTransformer(nn.Module):
    """A random causal transformer encoder: linear embedding, ``layers`` blocks, linear readout, and no
    absolute positions: order enters only through a relative position bias (:func:`relative_position_bias`).

    A teacher for Figure 12 must be a causal, time-homogeneous map (Definition 3.1's memory function
    assumes it): with absolute positional encodings most of the output would be an input-independent
    function of time, a clock the students would fail to fit for a reason that has nothing to do with
    memory. Here a constant input gives a constant output. Done right where the authors' version was not
    (docs/paper.md): ``batch_first=True`` so attention mixes time steps and not samples, a causal mask so
    step k sees only steps ≤ k, and eval mode (no dropout) so the teacher is a deterministic function.
    """

    def __init__(
        self,
        features: int = 32,
        heads: int = 4,
        layers: int = 2,
        feedforward: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.heads = int(heads)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.embedding = nn.Linear(1, int(features), dtype=torch.float64)
            block = nn.TransformerEncoderLayer(
                int(features),
                self.heads,
                int(feedforward),
                dropout=0.0,
                batch_first=True,
                dtype=torch.float64,
            )
            self.encoder = nn.TransformerEncoder(block, int(layers), enable_nested_tensor=False)
            self.readout = nn.Linear(int(features), 1, dtype=torch.float64)
        self.eval()
        _calibrate(self, self.readout)

    def forward(self, inputs: Tensor) -> Tensor:
        """(batch, time, 1) → (batch, time, 1), causal."""
        batch, length = inputs.shape[:2]
        bias = relative_position_bias(length, self.heads).to(inputs.device)
        mask = bias.repeat(batch, 1, 1)  # (batch · heads, length, length), batch-major as attention expects
        return self.readout(self.encoder(self.embedding(inputs), mask=mask))
