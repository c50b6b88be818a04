"""The leaky RNN of the paper (Eq. 1), top to bottom in one file.

Symbols (time-major throughout the package: tensors are ``[time, batch, ...]``):

* ``s(t)``  - the input bit at step ``t`` (``input_size`` = 1 for the memory tasks).
* ``r(t)``  - the activity of the ``hidden_size`` neurons after step ``t``.
* ``tau``   - one single-neuron timescale per neuron, ``tau_i >= 1``. ``tau = 1`` is a
  memory-less neuron; a larger ``tau`` leaks its past activity into the present.
* ``w_rec``, ``b_rec`` - recurrent weights ``W_R`` (row = target neuron) and bias ``b_R``.
* ``w_in``, ``b_in``   - input weights ``W_I`` and bias ``b_I``.
* ``phi``   - leaky ReLU with slope ``negative_slope`` below zero.

Eq. 1::

    r(t) = phi( (1 - 1/tau) * r(t-1) + (W_R r(t-1) + b_R + W_I s(t) + b_I) / tau )

with ``tau`` used as ``max(tau, 1)`` and the diagonal of ``W_R`` held at zero (no
self-connections: a neuron's own memory is ``tau``'s job).
"""

from __future__ import annotations

import math
import operator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnn_timescales.backbones.leaky_bptt import leaky_recurrence
from rnn_timescales.errors import ConfigError


class LeakyRNN(nn.Module):
    """Leaky RNN with one (trainable or fixed) timescale per neuron.

    Args:
        hidden_size: number of neurons (the paper uses 500).
        input_size: size of ``s(t)``; 1 for the binary memory tasks.
        tau: ``None`` trains one ``tau_i`` per neuron, initialised ``1 + U(0, 1)``. A number
            (``1.0``, ``2.0``, ``3.0`` in the paper) fixes every ``tau_i`` to it, untrained.
        negative_slope: slope of the leaky ReLU below zero. The paper states 0.1; the
            authors' published code used PyTorch's default 0.01 (their checkpoints load
            with 0.01).
        init_state: ``"uniform"`` draws ``r(0)`` from ``U(0, init_state_scale)`` for every
            sequence (the original code, with scale 0.1); ``"zeros"`` starts from rest.
        init_state_scale: upper end of the uniform initial state.
        implementation: ``"fused"`` runs the recurrence as one autograd function with a
            hand-written backward through time (fast); ``"autograd"`` is the plain
            per-step loop below, kept as the reference the fused one is tested against.
        cpu_batch_blocks: fused only, CPU only: cut the batch into this many blocks of
            rows and multiply them as a batch of products, one per core, instead of
            splitting each product across cores (5-10% faster steps on 2 cores; see
            ``leaky_bptt.py``). ``None`` picks one block per intra-op thread (2 to 8
            threads, 32+ rows a block), else 1. Uneven counts use the largest divisor of
            the batch size. Changes speed only: with the project machine's MKL the results
            are bit-identical for blocks of 32+ rows (the automatic choice); smaller
            blocks, or other libraries, may differ by float rounding.
    """

    def __init__(
        self,
        hidden_size: int = 500,
        input_size: int = 1,
        tau: float | None = None,
        negative_slope: float = 0.1,
        init_state: Literal["uniform", "zeros"] = "uniform",
        init_state_scale: float = 0.1,
        implementation: Literal["fused", "autograd"] = "fused",
        cpu_batch_blocks: int | None = None,
    ) -> None:
        super().__init__()
        if hidden_size < 1:
            raise ConfigError(f"hidden_size must be >= 1, got {hidden_size}")
        if input_size < 1:
            raise ConfigError(f"input_size must be >= 1, got {input_size}")
        if tau is not None and not tau >= 1.0:
            raise ConfigError(f"a fixed tau must be >= 1 (1 = memory-less neuron), got {tau}")
        if not 0 <= negative_slope <= 1:
            raise ConfigError(f"negative_slope must be in [0, 1], got {negative_slope}")
        if not init_state_scale >= 0:
            raise ConfigError(f"init_state_scale must be >= 0, got {init_state_scale}")
        if init_state not in ("uniform", "zeros"):
            raise ConfigError(f"init_state must be 'uniform' or 'zeros', got {init_state!r}")
        if implementation not in ("fused", "autograd"):
            raise ConfigError(f"implementation must be 'fused' or 'autograd', got {implementation!r}")
        if cpu_batch_blocks is not None:
            try:
                blocks = operator.index(cpu_batch_blocks)  # ints, numpy ints; not 2.5 or "2"
            except TypeError:
                blocks = None
            if isinstance(cpu_batch_blocks, bool) or blocks is None or blocks < 1:
                raise ConfigError(
                    f"cpu_batch_blocks must be an integer >= 1, or null to choose automatically, got {cpu_batch_blocks!r}"
                )
            cpu_batch_blocks = blocks
        self.hidden_size = hidden_size
        self.input_size = input_size
        self.negative_slope = negative_slope
        self.init_state = init_state
        self.init_state_scale = init_state_scale
        self.implementation = implementation
        self.cpu_batch_blocks = cpu_batch_blocks
        self.config = dict(
            hidden_size=hidden_size, input_size=input_size, tau=tau, negative_slope=negative_slope,
            init_state=init_state, init_state_scale=init_state_scale, implementation=implementation,
            cpu_batch_blocks=cpu_batch_blocks,
        )

        # nn.Linear's default initialisation, as the authors' code used nn.Linear layers.
        bound_rec, bound_in = 1 / math.sqrt(hidden_size), 1 / math.sqrt(input_size)
        self.w_rec = nn.Parameter(torch.empty(hidden_size, hidden_size).uniform_(-bound_rec, bound_rec))
        self.b_rec = nn.Parameter(torch.empty(hidden_size).uniform_(-bound_rec, bound_rec))
        self.w_in = nn.Parameter(torch.empty(hidden_size, input_size).uniform_(-bound_in, bound_in))
        self.b_in = nn.Parameter(torch.empty(hidden_size).uniform_(-bound_in, bound_in))
        if tau is None:
            self.tau = nn.Parameter(1.0 + torch.rand(hidden_size))
        else:
            self.register_buffer("tau", torch.full((hidden_size,), float(tau)))
        # A mask rather than an in-place edit: the diagonal then gets exactly zero gradient
        # and stays out of the dynamics whatever the stored values are.
        self.register_buffer("off_diagonal", 1.0 - torch.eye(hidden_size), persistent=False)
        with torch.no_grad():
            self.w_rec.mul_(self.off_diagonal)

    @property
    def tau_trained(self) -> bool:
        return isinstance(self.tau, nn.Parameter)

    def effective_tau(self) -> Tensor:
        """``max(tau, 1)``: the timescale the dynamics use."""
        return torch.clamp(self.tau, min=1.0)

    def effective_w_rec(self) -> Tensor:
        """``W_R`` with its diagonal removed: the weights the dynamics use."""
        return self.w_rec * self.off_diagonal

    def initial_state(self, batch_size: int, like: Tensor) -> Tensor:
        shape = (batch_size, self.hidden_size)
        if self.init_state == "zeros":
            return like.new_zeros(shape)
        return torch.rand(shape, dtype=like.dtype, device=like.device) * self.init_state_scale

    def forward(self, s: Tensor, r0: Tensor | None = None, return_trajectory: bool = False) -> Tensor:
        """Run Eq. 1 over a sequence.

        Args:
            s: input ``[time, batch, input_size]``.
            r0: initial state ``[batch, hidden_size]``; drawn as configured when omitted.
            return_trajectory: return ``r(t)`` for every step, ``[time, batch, hidden]``,
                instead of only the last state ``[batch, hidden]``.
        """
        if s.dim() != 3 or s.shape[-1] != self.input_size:
            raise ValueError(f"input must be [time, batch, {self.input_size}], got {tuple(s.shape)}")
        if s.dtype != self.w_rec.dtype:
            raise ValueError(f"input is {s.dtype} but the network is {self.w_rec.dtype}; convert one to the other")
        if r0 is None:
            r0 = self.initial_state(s.shape[1], s)
        tau = self.effective_tau()
        w_rec = self.effective_w_rec()
        if self.implementation == "fused":
            return self._fused(s, r0, tau, w_rec, last_only=not return_trajectory)
        trajectory = self._autograd_loop(s, r0, tau, w_rec)
        return trajectory if return_trajectory else trajectory[-1]

    def _autograd_loop(self, s: Tensor, r0: Tensor, tau: Tensor, w_rec: Tensor) -> Tensor:
        """Eq. 1 exactly as written, one step at a time (the reference implementation)."""
        # W_I s(t) + b_I for every t in one product, before the time loop.
        input_drive = F.linear(s, self.w_in, self.b_in)
        r, states = r0, []
        for t in range(input_drive.shape[0]):
            r = F.leaky_relu(
                (1 - 1 / tau) * r + (r @ w_rec.T + self.b_rec + input_drive[t]) / tau,
                self.negative_slope,
            )
            states.append(r)
        return torch.stack(states)

    def _fused(self, s: Tensor, r0: Tensor, tau: Tensor, w_rec: Tensor, last_only: bool) -> Tensor:
        """Eq. 1 regrouped so each step is a single matrix product plus the nonlinearity.

        With ``alpha = 1/tau``, Eq. 1 is ``r(t) = phi(r(t-1) @ M.T + c(t))`` where
        ``M = diag(alpha) W_R + diag(1 - alpha)`` and ``c(t) = alpha * (W_I s(t) + b_I + b_R)``;
        ``c`` is the input layer with its weights and bias scaled by alpha.
        Autograd differentiates M and c back to tau, W_R (diagonal masked), the
        biases and W_I; only the recurrence itself has a hand-written backward.
        """
        alpha = 1.0 / tau
        m = alpha[:, None] * w_rec + torch.diag(1.0 - alpha)
        v = alpha[:, None] * self.w_in
        b = alpha * (self.b_in + self.b_rec)
        return leaky_recurrence(
            s, v, b, r0, m, self.negative_slope, last_only=last_only, blocks=self.cpu_batch_blocks
        )

    def extra_repr(self) -> str:
        mode = "trained" if self.tau_trained else f"fixed={self.tau[0].item():g}"
        return (
            f"hidden_size={self.hidden_size}, input_size={self.input_size}, tau={mode}, "
            f"negative_slope={self.negative_slope}, implementation={self.implementation}"
        )
