"""The residual RNN of the paper (docs/paper.md §2) and the registry of recurrent parameterisations.

Forward-Euler discretisation of ``dh/dt = σ(U x + b − Ŵ h)``, ``ŷ = cᵀ h + c0`` in float64::

    h_0 = 0,   h_{k+1} = h_k + dt · σ(U x_k + b − Ŵ h_k),   ŷ_k = cᵀ h_{k+1} + c0

``Ŵ`` is positive (semi)definite by construction, so ``−Ŵ`` is the stable direction. Each
parameterisation builds ``Ŵ`` from a raw vector ``w`` (and, when *rotated*, a free matrix ``P``)::

    Ŵ = diag(g(w))            (rotated = False)
    Ŵ = Pᵀ diag(g(w)) P       (rotated = True, P initialised orthogonal by QR and trained freely)

A new parameterisation is one function ``g`` registered with :func:`register_parameterization`, with its
inverse (which gives every parameterisation the same initial ``Ŵ`` where a study compares them) and
optionally its pullback ``(w, ∂L/∂g) ↦ ∂L/∂w``, which spares the training step an autograd call.

The unstable baselines are the authors' (their ``SimpleDiagonalRNN`` and ``SimpleRNN``): ``diagonal``
and ``vanilla`` train ``g(w) = relu(w)``, so every mode whose ``w`` starts negative (half of them at
``w ~ N(0, 1)``) gets no gradient and stays an exact integrator (``g = 0``). Perturbation acts as in
their ``perturb.py``: ``w`` is first set to ``relu(w)`` and the model is evaluated with ``g(w) = w``, so a
perturbation can push any eigenvalue, the frozen ones included, below zero (:meth:`RNN.perturbation_model`).
Our variants ``diagonal_projected`` and ``vanilla_projected`` train ``g(w) = w`` with ``w ≥ 0`` kept by
projection after every optimiser step instead: no dead gradients, so no mode is left frozen at 0 by
its initialisation (the frozen modes blow up under any perturbation whatever the target, which hides
the target-dependence the paper is about); they are perturbed on ``w`` directly.

Evaluation paths (the one place they are documented). :meth:`RNN.reference_forward` steps the
recurrence above in time with torch ops: the definition, which the unit tests hold the others equal to.
:meth:`RNN.forward` computes the same outputs faster:

* the linear activation, which is linear time-invariant, as the causal convolution of the input with
  the kernel ``g_j = dt · cᵀ (I − dt Ŵ)^j U`` plus the response to the constant drive ``b`` (the
  impulse responses, from powers of ``I − dt Ŵ`` by doubling; :meth:`RNN._convolution_outputs`);
* the others on CPU by :mod:`curse_of_memory.recurrence`: three torch ops per step into reused
  buffers and, where a gradient is wanted, the backward pass derived by hand instead of autograd's
  graph of every step. An activation added to ``ACTIVATIONS`` alone runs the reference loop (or
  :meth:`RNN._stepped_outputs` under autograd) until it has an entry in ``recurrence.STEPPED``;
* on CUDA, where autograd will differentiate them (training), by :meth:`RNN._stepped_outputs`: the
  same recurrence in three ops per step, fewer than half the reference's kernels forward and backward,
  which the training step replays from a CUDA graph captured once per batch shape
  (:class:`curse_of_memory.training.CapturedLossGradient`).

Training (:func:`curse_of_memory.training.training_step`) takes its gradients from
:meth:`RNN.loss_and_backward` where the hand-derived backward runs: the loss of the traced forward pass,
then the pullback and the chain rule through ``Ŵ`` and the stability margin in closed form, held equal to
autograd of :meth:`RNN.reference_forward` and :meth:`RNN.stability_margin` by the unit tests.

Ensembles: every parameter may carry one extra leading dimension E (e.g. the perturbed copies of a
model stacked by :func:`torch.func.functional_call`); the outputs are then (E, batch, time, 1),
each member evaluated with its own parameters on the shared inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from curse_of_memory import recurrence
from curse_of_memory.loss import weighted_mse_and_gradient

DTYPE = torch.float64

#: Activations σ of the recurrence.
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "linear": lambda z: z,
    "tanh": torch.tanh,
    "hardtanh": F.hardtanh,
    "relu": torch.relu,
}


#: The margins a stability penalty can read (:meth:`RNN.margin`).
MARGINS = ("smallest_positive_mode", "smallest_eigenvalue")


def log_uniform_eigenvalues(width: int, low: float, high: float, seed: int) -> Tensor:
    """``width`` eigenvalues drawn log-uniformly in ``[low, high]`` from a stream of their own for ``seed``
    (memory time scales ``1/λ`` spread between ``1/high`` and ``1/low`` steps): the initial ``Ŵ`` that the
    studies comparing parameterisations give every form (:meth:`RNN.set_eigenvalues_`)."""
    values = np.random.default_rng([seed, 1]).uniform(math.log(low), math.log(high), width)
    return torch.as_tensor(np.exp(values), dtype=DTYPE)


@dataclass(frozen=True)
class Parameterization:
    """How the eigenvalue-like vector ``g(w)`` and the optional rotation ``P`` build ``Ŵ``.

    ``raw_floor`` marks the projected forms: training projects ``w`` onto ``w ≥ raw_floor`` after every
    step (0 for the projected baselines, whose ``g`` is the identity). ``perturbed_as`` names the
    parameterisation under which the model is perturbed, with ``w`` replaced by ``g(w)`` (the authors' relu
    baselines: their identity-``g`` copies), or None to perturb this one as it is. ``pullback(w, grad)`` is
    ``g'(w) · grad`` (the vector-Jacobian product of the elementwise ``g``: ``∂L/∂w`` from ``∂L/∂g``), or
    None to let autograd differentiate ``g``. ``g_inverse(λ)`` is ``g⁻¹(λ)``: the ``w`` whose ``g(w) = λ``
    for eigenvalues ``λ`` in ``(0, 2]`` (the range every registered ``g`` reaches), which gives every
    parameterisation the same initial ``Ŵ`` (:meth:`RNN.set_eigenvalues_`).
    """

    eigenvalue_map: Callable[[Tensor], Tensor]
    rotated: bool
    g_inverse: Callable[[Tensor], Tensor]
    raw_floor: float | None = None
    pullback: Callable[[Tensor, Tensor], Tensor] | None = None
    perturbed_as: str | None = None


#: Registry of recurrent-weight parameterisations, by name.
PARAMETERIZATIONS: dict[str, Parameterization] = {}


def register_parameterization(
    name: str,
    *,
    g_inverse: Callable[[Tensor], Tensor],
    rotated: bool = True,
    raw_floor: float | None = None,
    pullback: Callable[[Tensor, Tensor], Tensor] | None = None,
    perturbed_as: str | None = None,
) -> Callable[[Callable[[Tensor], Tensor]], Callable[[Tensor], Tensor]]:
    """Register ``g`` as the parameterisation ``name`` (``Ŵ = Pᵀ diag(g(w)) P`` when rotated), with its
    inverse ``g_inverse = g⁻¹`` and its ``pullback(w, grad) = g'(w) · grad`` where it is known in closed
    form."""

    def decorator(eigenvalue_map: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
        PARAMETERIZATIONS[name] = Parameterization(
            eigenvalue_map, rotated, g_inverse, raw_floor, pullback, perturbed_as
        )
        return eigenvalue_map

    return decorator


def _identity(w: Tensor) -> Tensor:
    return w


def _identity_pullback(w: Tensor, grad: Tensor) -> Tensor:
    """``∂L/∂w = ∂L/∂g`` for ``g(w) = w``: the gradient itself, no operation."""
    return grad


def _softplus_pullback(w: Tensor, grad: Tensor) -> Tensor:
    """``softplus'(w) · grad``: the logistic function, and 1 where ``F.softplus`` is the identity (w > 20,
    its threshold), as autograd differentiates it."""
    return grad * torch.where(w > 20.0, 1.0, torch.sigmoid(w))


def _exp_pullback(w: Tensor, grad: Tensor) -> Tensor:
    return grad * torch.exp(w)


def _relu_pullback(w: Tensor, grad: Tensor) -> Tensor:
    """``relu'(w) · grad``: the gradient where ``w > 0``, 0 elsewhere (at 0 too, as autograd's relu)."""
    return torch.where(w > 0, grad, 0.0)


def _inverse_pullback(w: Tensor, grad: Tensor) -> Tensor:
    """``d/dw (1/w) = −1/w²``, times ``grad``."""
    return grad * -(w.reciprocal().square())


register_parameterization(
    "diagonal", rotated=False, g_inverse=_identity, pullback=_relu_pullback, perturbed_as="diagonal_projected"
)(torch.relu)
register_parameterization(
    "vanilla", g_inverse=_identity, pullback=_relu_pullback, perturbed_as="vanilla_projected"
)(torch.relu)
register_parameterization(
    "diagonal_projected", rotated=False, g_inverse=_identity, raw_floor=0.0, pullback=_identity_pullback
)(_identity)
register_parameterization(
    "vanilla_projected", g_inverse=_identity, raw_floor=0.0, pullback=_identity_pullback
)(_identity)
# "direct" (W = M): no reparameterisation and no constraint, the unstable baseline of Appendix E's image
# classification; an eigenvalue of Ŵ that training pushes below 0 is an unstable mode.
register_parameterization("direct", g_inverse=_identity, pullback=_identity_pullback)(_identity)
# eq. 16: g(M) = −log(1 + e^M) and g(M) = −e^M in dh/dt
register_parameterization(
    "softplus", g_inverse=lambda v: torch.log(torch.expm1(v)), pullback=_softplus_pullback
)(F.softplus)
register_parameterization("exp", g_inverse=torch.log, pullback=_exp_pullback)(torch.exp)
# The authors' "inverse" form (radarFudan/Curse-of-memory, branch A_simplify_rnn_ssm,
# src/models/recurrent_unified/parameterization.py): the discrete transition 1 − 1/w with w ≥ 0.5, that
# is g(w) = 1/w in the Euler step's I − dt·Ŵ at dt = 1, held in (0, 2] by projecting w onto w ≥ 0.5 (the
# authors clamp w in the forward pass instead, which leaves a clamped w without gradient).
register_parameterization("inverse", g_inverse=torch.reciprocal, raw_floor=0.5, pullback=_inverse_pullback)(
    torch.reciprocal
)


def _best_pullback(w: Tensor, grad: Tensor) -> Tensor:
    """``d/dw 1/(w² + 0.5) = −2w/(w² + 0.5)²``, times ``grad``."""
    return grad * (-2.0 * w * best_eigenvalues(w).square())


def _best_raw(eigenvalues: Tensor) -> Tensor:
    """``g⁻¹(λ) = √(1/λ − 0.5)`` for ``λ`` in (0, 2] (the non-negative branch)."""
    return torch.sqrt(eigenvalues.reciprocal() - 0.5)


@register_parameterization("best", g_inverse=_best_raw, pullback=_best_pullback)
def best_eigenvalues(w: Tensor) -> Tensor:
    """StableSSM's "best" form ``1/(w² + 0.5)``: bounded gradient-over-weight ratio."""
    return 1.0 / (w * w + 0.5)


# The model algebra of the linear path and the rotated forms' gradients (RNN.forward, loss_and_backward).
def _toeplitz(kernel: Tensor) -> Tensor:
    """(E, T, T) with ``[k, i] = kernel[k − i]`` for k ≥ i, else 0: windows of the reversed,
    zero-padded kernel."""
    length = kernel.shape[-1]
    return F.pad(kernel.flip(-1), (0, length - 1)).unfold(-1, length, 1).flip(-2)


def convolution_outputs(inputs: Tensor, kernel: Tensor, bias_response: Tensor, output_bias: Tensor) -> Tensor:
    """``ŷ_k = Σ_{j≤k} g_j x_{k−j} + Σ_{j≤k} r_j + c0`` (E, B, T) for inputs (B, T), kernels ``g`` and
    ``r`` (E, T) and ``c0`` (E,): the causal convolution as one product with a Toeplitz matrix."""
    return inputs @ _toeplitz(kernel).mT + (bias_response.cumsum(-1) + output_bias[:, None])[:, None, :]


def smallest_eigenpair(matrix: Tensor) -> tuple[float, Tensor]:
    """The smallest eigenvalue of the symmetric (m, m) ``matrix`` and its unit eigenvector, as
    ``torch.linalg.eigh`` gives them (the vector autograd's ``eigvalsh`` differentiates with)."""
    values, vectors = torch.linalg.eigh(matrix)
    return values[0].item(), vectors[:, 0]


def rotated_pullback(
    rotation: Tensor,
    eigenvalues: Tensor,
    grad_w_hat: Tensor,
    slope: float = 0.0,
    vector: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """Through ``Ŵ = Pᵀ diag(g) P``, from ``∂L/∂Ŵ = G + slope · v vᵀ`` (``grad_w_hat`` G (m, m),
    ``v`` = ``vector``; without a ``vector``, ``G`` alone): ``∂L/∂P = diag(g) P (G + Gᵀ + 2 slope v vᵀ)``
    and ``∂L/∂g_i = (P G Pᵀ)_ii + slope (P v)_i²``."""
    symmetric = grad_w_hat + grad_w_hat.mT
    grad_eigenvalues = torch.linalg.vecdot(rotation @ grad_w_hat, rotation)
    if vector is not None:
        symmetric.addr_(vector, vector, alpha=2 * slope)
        projected = rotation @ vector
        grad_eigenvalues.addcmul_(projected, projected, value=slope)
    return (eigenvalues[:, None] * rotation) @ symmetric, grad_eigenvalues


class RNN(nn.Module):
    """Residual RNN mapping inputs (batch, time, 1) to outputs (batch, time, 1), in float64.

    Parameters are named after the paper's symbols: ``input_weight`` U and ``input_bias`` b (the
    linear encoder), ``recurrent_raw`` w and ``rotation`` P (building Ŵ), ``output_weight`` c and
    ``output_bias`` c0 (the linear decoder).
    """

    def __init__(
        self,
        width: int,
        activation: str = "tanh",
        parameterization: str = "softplus",
        dt: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; allowed: {sorted(ACTIVATIONS)}")
        if parameterization not in PARAMETERIZATIONS:
            raise ValueError(
                f"unknown parameterization {parameterization!r}; allowed: {sorted(PARAMETERIZATIONS)}"
            )
        self.width, self.activation, self.parameterization, self.dt = (
            width,
            activation,
            parameterization,
            dt,
        )
        self.form = PARAMETERIZATIONS[parameterization]
        generator = torch.Generator().manual_seed(seed)

        def uniform(shape: tuple[int, ...], fan_in: int) -> nn.Parameter:
            bound = 1.0 / math.sqrt(fan_in)
            values = (2 * torch.rand(shape, generator=generator, dtype=DTYPE) - 1) * bound
            return nn.Parameter(values)

        # torch.nn.Linear's default initialisation, drawn from this model's own generator.
        self.input_weight = uniform((width,), fan_in=1)
        self.input_bias = uniform((width,), fan_in=1)
        self.recurrent_raw = nn.Parameter(torch.randn(width, generator=generator, dtype=DTYPE))
        if self.form.rotated:
            square = torch.randn(width, width, generator=generator, dtype=DTYPE)
            self.rotation = nn.Parameter(torch.linalg.qr(square)[0])
        self.output_weight = uniform((width,), fan_in=width)
        self.output_bias = uniform((1,), fan_in=width)
        self.project_()

    def hyperparameters(self) -> dict:
        """The constructor arguments that rebuild this architecture (stored in checkpoints)."""
        return {
            "width": self.width,
            "activation": self.activation,
            "parameterization": self.parameterization,
            "dt": self.dt,
        }

    def eigenvalues(self) -> Tensor:
        """``g(w)``: the diagonal of ``Ŵ`` before rotation, (width,) or (E, width)."""
        return self.form.eigenvalue_map(self.recurrent_raw)

    def recurrent_matrix(self, eigenvalues: Tensor | None = None) -> Tensor:
        """``Ŵ`` as a dense (width, width) matrix, or (E, width, width) for an ensemble (from ``g(w)`` =
        ``eigenvalues`` when the caller has them)."""
        diagonal = self.eigenvalues() if eigenvalues is None else eigenvalues
        if not self.form.rotated:
            return torch.diag_embed(diagonal)
        return self.rotation.mT @ (diagonal[..., :, None] * self.rotation)

    def stability_margin(self) -> Tensor:
        """The smallest eigenvalue of ``Ŵ``: the distance of the slowest mode from instability.

        ``Ŵ`` is symmetric in every registered form, so its eigenvalues are real (``eigvalsh``, which
        returns them in ascending order: the first is the smallest).
        """
        if not self.form.rotated:
            return self.eigenvalues().min(dim=-1).values
        return torch.linalg.eigvalsh(self.recurrent_matrix())[..., 0]

    def smallest_positive_mode(self) -> Tensor:
        """The smallest positive ``g(w)``, ``+∞`` when no mode is positive: the authors' margin (their
        ``stability_margin``, the smallest positive ``w`` of their relu forms), which reads past the frozen
        modes ``g = 0`` that :meth:`stability_margin` stops at, so that its penalty acts on the live ones."""
        eigenvalues = self.eigenvalues()
        return torch.where(eigenvalues > 0, eigenvalues, math.inf).min(dim=-1).values

    def margin(self, kind: str) -> Tensor:
        """The margin a penalty reads: ``smallest_positive_mode`` (:meth:`smallest_positive_mode`) or
        ``smallest_eigenvalue`` (:meth:`stability_margin`)."""
        if kind not in MARGINS:
            raise ValueError(f"unknown margin {kind!r}; allowed: {MARGINS}")
        return self.smallest_positive_mode() if kind == "smallest_positive_mode" else self.stability_margin()

    @torch.no_grad()
    def gradient_over_weight(self) -> Tensor:
        """The gradient-over-weight ratio ``|g'(w)| / g(w)²`` of each mode of ``Ŵ`` (its eigenvalues are
        ``g(w)``; StableSSM, arXiv 2311.14495): how far a step on ``w`` moves a mode relative to its squared
        size. It is ``e^{−w}`` for exp, ``2|w|`` for best, 1 for inverse, ``1/w²`` for direct: unbounded as a
        mode nears 0 for every form but best and inverse; ``+∞`` for a projected mode held at 0, and NaN
        (0/0) for the relu baselines' frozen modes, which no gradient moves."""
        raw = self.recurrent_raw.detach()
        slope = self._eigenvalue_pullback(torch.ones_like(raw))  # g'(w)
        return slope.abs() / self.form.eigenvalue_map(raw).square()

    def gradient_over_weight_statistics(self) -> dict[str, float]:
        """The largest and the median :meth:`gradient_over_weight` over the modes that have one (not NaN;
        NaN when none has), beside the stability margin: what the training histories record per epoch."""
        ratios = self.gradient_over_weight()
        ratios = ratios[~ratios.isnan()]
        with torch.no_grad():
            margin = self.stability_margin().item()
        values = ratios.cpu().numpy()  # numpy's median of two infinite middles is +∞, torch's quantile NaN
        largest, median = (float(values.max()), float(np.median(values))) if len(values) else (math.nan,) * 2
        return {
            "stability_margin": margin,
            "gradient_over_weight": largest,
            "gradient_over_weight_median": median,
        }

    @torch.no_grad()
    def perturbation_model(self) -> RNN:
        """The model whose raw parameters perturbations act on: this one, or for a form with
        ``perturbed_as`` (the authors' relu baselines) a copy under that parameterisation with ``w``
        replaced by ``g(w)``; the same outputs unperturbed."""
        target = self.form.perturbed_as
        if target is None:
            return self
        copy = RNN(self.width, self.activation, target, self.dt)
        copy.load_state_dict({**self.state_dict(), "recurrent_raw": self.eigenvalues()})
        return copy

    @torch.no_grad()
    def project_(self) -> RNN:
        """Enforce the parameterisation's constraint (``w ≥ raw_floor``: 0 for the projected baselines, 0.5
        for inverse); call after a step."""
        if self.form.raw_floor is not None:
            self.recurrent_raw.clamp_(min=self.form.raw_floor)
        return self

    @torch.no_grad()
    def set_eigenvalues_(self, eigenvalues: Tensor) -> RNN:
        """Set ``w = g⁻¹(eigenvalues)``, so that ``g(w)``, hence ``Ŵ`` with the same ``P``, is the same
        under every parameterisation (eigenvalues in (0, 2], as :class:`Parameterization` says)."""
        if not bool(((eigenvalues > 0) & (eigenvalues <= 2)).all()):
            raise ValueError("eigenvalues must lie in (0, 2], the range every registered g reaches")
        self.recurrent_raw.copy_(self.form.g_inverse(eigenvalues.to(self.recurrent_raw)))
        return self.project_()

    def forward(self, inputs: Tensor) -> Tensor:
        """Outputs ``ŷ_k = cᵀ h_{k+1} + c0`` for inputs (batch, time, 1), by the fastest exact path."""
        parameters = self._recurrence_parameters()
        if self.activation == "linear":
            return self._convolution_outputs(inputs[..., 0], parameters)
        if self._stepped_for(inputs):
            return recurrence.recurrence_outputs(inputs, parameters, self.dt, self.activation)
        if torch.is_grad_enabled() and any(parameter.requires_grad for parameter in parameters):
            return self._stepped_outputs(inputs, parameters)
        return self.reference_forward(inputs)

    def loss_and_backward(
        self, inputs: Tensor, targets: Tensor, squared_weights: Tensor, margin: str = "smallest_eigenvalue"
    ) -> tuple[float, Callable[[Callable[[float], float]], None]] | None:
        """The training loss of a single model, ``mean_{n,k} w_k² (ŷ − y)²`` of its outputs for ``inputs``
        (batch, time, 1) against ``targets`` with ``squared_weights`` ``w_k²`` (as
        :func:`curse_of_memory.loss.weighted_mse`), and the backward pass of it plus the stability
        margin's term: ``backward(margin_gradient)``, with ``margin_gradient`` mapping the ``margin``
        (:meth:`margin`) to ``∂L/∂margin``, sets every parameter's ``.grad`` to ``∂L/∂parameter``.
        In closed form (:func:`recurrence.pullback`), without autograd, whose graph of every step costs
        more than the recurrence itself. None for an ensemble, the linear activation (its convolution is
        a few ops for autograd) or where the stepped recurrence does not run.

        Chain rule through ``Ŵ = Pᵀ diag(g) P`` with ``G = ∂L/∂Ŵ``: ``∂L/∂P = diag(g) P (G + Gᵀ)`` and
        ``∂L/∂g_i = (P G Pᵀ)_ii`` (:func:`rotated_pullback`); the margin ``λ_min(Ŵ)`` adds
        ``v vᵀ`` per unit to ``G`` (``v`` its unit eigenvector, the one autograd's ``eigvalsh``
        differentiates with), or for a diagonal ``Ŵ`` one to ``∂L/∂g`` at the first smallest ``g``; the
        smallest positive mode adds one to ``∂L/∂g`` at the first smallest positive ``g``, rotated or not
        (nothing when no mode is positive). The backward pass runs once."""
        if self._members() or not self._stepped_for(inputs):  # the linear activation is not stepped
            return None
        with torch.no_grad():
            eigenvalues = self.eigenvalues()
            rotated = self.form.rotated
            w_hat = self.recurrent_matrix(eigenvalues) if rotated else eigenvalues
            parameters = recurrence.as_members(self._recurrence_parameters(w_hat))
            outputs, trace = recurrence.traced_outputs(inputs, parameters, self.dt, self.activation)
            losses, grad_outputs = weighted_mse_and_gradient(outputs[..., None], targets, squared_weights)

        @torch.no_grad()
        def backward(margin_gradient: Callable[[float], float]) -> None:
            gradients = [g[0] for g in recurrence.pullback(trace, grad_outputs[..., 0])]
            grad_w_hat = gradients[2]
            if rotated and margin == "smallest_eigenvalue":  # λ_min(Ŵ): through its eigenvector
                smallest, slowest = smallest_eigenpair(w_hat)
                self.rotation.grad, grad_eigenvalues = rotated_pullback(
                    self.rotation, eigenvalues, grad_w_hat, margin_gradient(smallest), slowest
                )
            else:  # a mode g_i itself: λ_min of a diagonal Ŵ, or the smallest positive mode
                grad_eigenvalues = grad_w_hat
                if rotated:
                    self.rotation.grad, grad_eigenvalues = rotated_pullback(
                        self.rotation, eigenvalues, grad_w_hat
                    )
                values = eigenvalues.tolist()
                read = (
                    [value for value in values if value > 0] if margin == "smallest_positive_mode" else values
                )
                if read:
                    grad_eigenvalues[values.index(min(read))] += margin_gradient(min(read))
            self.recurrent_raw.grad = self._eigenvalue_pullback(grad_eigenvalues)
            self.input_weight.grad, self.input_bias.grad = gradients[0], gradients[1]
            self.output_weight.grad, self.output_bias.grad = gradients[3], gradients[4].reshape(1)

        return losses.item(), backward

    def reference_forward(self, inputs: Tensor) -> Tensor:
        """The recurrence stepped in time with torch ops: the definition the fast paths must match.

        Encoder and decoder act per step on (E, batch, width) slices: no (batch, time, width) tensor
        is ever built, which keeps the backward pass free of large allocations.
        """
        output_weight, output_bias = recurrence.as_members(self._recurrence_parameters())[3:]
        outputs = [(hidden * output_weight[:, None]).sum(-1) for hidden in self._reference_states(inputs)]
        return self._members_out(torch.stack(outputs, dim=-1) + output_bias[:, None, None])

    def final_states(self, inputs: Tensor) -> Tensor:
        """The last hidden states ``h_T`` (batch, width), or (E, batch, width) for an ensemble, for inputs
        (batch, time, 1): what a readout of the whole sequence reads (the image classifier). By
        :func:`recurrence.final_states` where the fast path runs, else :meth:`reference_forward`'s loop."""
        parameters = self._recurrence_parameters()[:3]
        if self._stepped_for(inputs):
            states = recurrence.final_states(inputs, parameters, self.dt, self.activation)
            return states.reshape(*self._members(), *states.shape[-2:])
        *_, last = self._reference_states(inputs)
        return last.reshape(*self._members(), *last.shape[-2:])

    def _reference_states(self, inputs: Tensor) -> Iterator[Tensor]:
        """The states ``h_1 … h_T`` (E, batch, width) of :meth:`reference_forward`'s loop, one per step."""
        sigma = ACTIVATIONS[self.activation]
        parameters = recurrence.as_members(self._recurrence_parameters())
        input_weight, input_bias, w_hat = parameters[:3]
        hidden = inputs.new_zeros(input_weight.shape[0], inputs.shape[0], self.width)  # (E, batch, width)
        for input_step in inputs.transpose(0, 1).unbind(0):  # (batch, 1) per step
            drive = input_step * input_weight[:, None] + input_bias[:, None]
            recurrent = hidden * w_hat[:, None] if w_hat.dim() == 2 else hidden @ w_hat
            hidden = hidden + self.dt * sigma(drive - recurrent)
            yield hidden

    def _stepped_outputs(self, inputs: Tensor, parameters: list[Tensor]) -> Tensor:
        """:meth:`reference_forward`'s recurrence in three ops per step, for autograd to differentiate where
        the hand-derived backward does not run (CUDA): the drives ``U x_k + b`` of all steps at once, then
        per step ``U x_k + b − Ŵ h`` as one (batched) matrix product with the drive as its addend, σ, and
        the update; the outputs in one product with ``c`` at the end. Fewer than half the reference's
        kernels, forward and backward (each one a launch on CUDA), for all the steps' drives and states held
        at once, which autograd keeps anyway (without a gradient, :meth:`reference_forward` keeps one
        step's)."""
        sigma = ACTIVATIONS[self.activation]
        input_weight, input_bias, w_hat, output_weight, output_bias = recurrence.as_members(parameters)
        steps = inputs[..., 0].T[None, :, :, None]  # (1, time, batch, 1)
        drives = steps * input_weight[:, None, None] + input_bias[:, None, None]  # (E, time, batch, width)
        hidden = inputs.new_zeros(input_weight.shape[0], inputs.shape[0], self.width)  # (E, batch, width)
        states = []
        for drive in drives.unbind(1):
            if w_hat.dim() == 2:
                preactivation = torch.addcmul(drive, hidden, w_hat[:, None], value=-1.0)
            else:
                preactivation = torch.baddbmm(drive, hidden, w_hat, alpha=-1.0)
            hidden = torch.add(hidden, sigma(preactivation), alpha=self.dt)
            states.append(hidden)
        outputs = torch.stack(states, dim=2) @ output_weight[:, None, :, None]  # (E, batch, time, 1)
        return self._members_out(outputs[..., 0] + output_bias[:, None, None])

    def _members(self) -> torch.Size:
        """The ensemble's leading dimensions: () for a single model."""
        return self.output_bias.shape[:-1]

    def _stepped_for(self, inputs: Tensor) -> bool:
        """Whether :mod:`curse_of_memory.recurrence` evaluates this model on these inputs (on CPU)."""
        return inputs.is_cpu and recurrence.available_for(self.activation, inputs)

    def _eigenvalue_pullback(self, grad_eigenvalues: Tensor) -> Tensor:
        """``∂L/∂w = g'(w) ∂L/∂g``: by the registered pullback, else autograd through g."""
        if self.form.pullback is not None:
            return self.form.pullback(self.recurrent_raw, grad_eigenvalues)
        with torch.enable_grad():
            raw = self.recurrent_raw.detach().requires_grad_()
            return torch.autograd.grad(self.form.eigenvalue_map(raw), raw, grad_eigenvalues)[0]

    def _recurrence_parameters(self, w_hat: Tensor | None = None) -> list[Tensor]:
        """[U, b, Ŵ, c, c0] as held (an ensemble's with their leading dimension); Ŵ is its diagonal ``g(w)``
        (…, width) when unrotated, else (…, width, width); ``w_hat``, when given, in its place."""
        if w_hat is None:
            w_hat = self.recurrent_matrix() if self.form.rotated else self.eigenvalues()
        return [self.input_weight, self.input_bias, w_hat, self.output_weight, self.output_bias]

    def _members_out(self, outputs: Tensor) -> Tensor:
        """(E, batch, time) → (batch, time, 1), or (E, batch, time, 1) for an ensemble."""
        return outputs.reshape(*self._members(), *outputs.shape[-2:], 1)

    def _convolution_outputs(self, inputs: Tensor, parameters: list[Tensor]) -> Tensor:
        """Exact outputs (…, batch, time, 1) of the linear recurrence as a causal convolution, for inputs
        (batch, time) and ``parameters`` as from :meth:`_recurrence_parameters`.

        With ``A = I − dt Ŵ``: ``h_{k+1} = Σ_{j≤k} A^j dt (U x_{k−j} + b)``, so
        ``ŷ_k = Σ_{j≤k} g_j x_{k−j} + Σ_{j≤k} r_j + c0`` with ``g_j = dt cᵀ A^j U`` and
        ``r_j = dt cᵀ A^j b``: the model's responses to a unit impulse entering through U and through
        b in its place, with the powers ``A^j`` by repeated doubling.
        """
        input_weight, input_bias, w_hat, output_weight, output_bias = recurrence.as_members(parameters)
        drive = torch.stack([input_weight, input_bias], dim=-1)  # (E, width, 2)
        powers = self._transition_powers(w_hat, drive, inputs.shape[1])  # (E, width, length, 2): A^j [U b]
        responses = self.dt * torch.einsum("ew,ewjc->ejc", output_weight, powers)
        outputs = convolution_outputs(inputs, responses[..., 0], responses[..., 1], output_bias)
        return self._members_out(outputs)

    def _transition_powers(self, w_hat: Tensor, vectors: Tensor, length: int) -> Tensor:
        """``A^j V`` (E, width, length, columns) for j = 0..length−1 with ``A = I − dt Ŵ`` per member
        (``w_hat`` (E, width) when diagonal, else (E, width, width)) and ``V`` (E, width, columns), by
        repeated doubling: ``[A^0 V … A^{n−1} V]`` extended by ``A^n`` times itself, one product per
        doubling."""
        members, width, columns = vectors.shape
        if w_hat.dim() == 3:
            transition = torch.eye(width, dtype=DTYPE, device=vectors.device) - self.dt * w_hat
        else:
            transition = 1.0 - self.dt * w_hat
        blocks, power = vectors, transition  # [A^0 V], A^1
        while blocks.shape[-1] < length * columns:
            extension = power @ blocks if w_hat.dim() == 3 else power[..., None] * blocks
            blocks = torch.cat([blocks, extension], dim=-1)
            power = power @ power if w_hat.dim() == 3 else power * power
        return blocks[..., : length * columns].reshape(members, width, length, columns)


def save_checkpoint_payload(model: RNN) -> dict:
    """What a checkpoint stores: the architecture and the weights."""
    return {"hyperparameters": model.hyperparameters(), "state_dict": model.state_dict()}


def model_from_payload(payload: dict) -> RNN:
    """Rebuild a model from :func:`save_checkpoint_payload`'s dictionary."""
    model = RNN(**payload["hyperparameters"])
    model.load_state_dict(payload["state_dict"])
    return model
