"""Interventions on a trained leaky RNN: pure functions that return a modified deep copy.

The model passed in is never changed (``copy.deepcopy``; Lightning drops the trainer
reference when copying, so this is safe inside a callback too).

* :func:`ablate` - remove neurons (paper Eq. 8, Appendix L).
* :func:`perturb_w_rec`, :func:`perturb_tau` - random perturbations of relative size
  epsilon (paper Eq. 4, after Wu et al. 2020).
* :func:`scale_inhibition` - scale only the negative recurrent weights (paper Eq. 7, App. J).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from rnn_timescales.backbones import LeakyRNN
from rnn_timescales.errors import ConfigError
from rnn_timescales.module import MemoryTaskModule


def leaky_backbone(model: MemoryTaskModule) -> LeakyRNN:
    """The model's ``LeakyRNN``; a ConfigError for backbones without ``tau`` and ``W_R``."""
    if not isinstance(model.backbone, LeakyRNN):
        raise ConfigError(
            f"this analysis needs a LeakyRNN backbone (it changes tau and W_R); "
            f"the network has a {type(model.backbone).__name__}"
        )
    return model.backbone


def _check_strength(name: str, value: float, low: float = 0.0) -> float:
    if not (math.isfinite(value) and value >= low):
        raise ConfigError(f"{name} must be a finite number >= {low:g}, got {value}")
    return float(value)


def neurons_by_tau(model: MemoryTaskModule, count: int, which: Literal["longest", "shortest"]) -> list[int]:
    """Indices of the ``count`` neurons with the longest or shortest effective tau.

    Ties (common: many neurons sit at tau = 1 in multi-head networks) are broken by
    neuron index, via a stable sort, so the choice is reproducible.
    """
    backbone = leaky_backbone(model)
    if which not in ("longest", "shortest"):
        raise ConfigError(f"which must be 'longest' or 'shortest', got {which!r}")
    if not 0 <= count <= backbone.hidden_size:
        raise ConfigError(f"count must be in 0..{backbone.hidden_size} (the network's neurons), got {count}")
    tau = backbone.effective_tau().detach().cpu().numpy()
    order = np.argsort(-tau if which == "longest" else tau, kind="stable")
    return [int(i) for i in order[:count]]


def ablate(model: MemoryTaskModule, neurons: Sequence[int]) -> MemoryTaskModule:
    """A copy of ``model`` with ``neurons`` removed (paper Eq. 8)::

        W_R[i, :] = W_R[:, i] = 0,  W_I[i] = 0,  W_O^(k)[:, i] = 0 for every head k,
        b_I[i] = b_R[i] = 0.

    Every readout head is cleared, not only the first (the original code cleared head
    0 only, so the other heads of a multi-head network still read the neuron).

    Biases: the paper's Eq. 8 does not mention them. With the outgoing and readout
    weights at zero, the neuron's activity cannot reach any other neuron or any head,
    so the biases do not change the network's answers either way. They are zeroed here
    so that the ablated neuron is also silent (its activity decays to phi(0) = 0):
    analyses of the ablated network's activity (dimensionality, timescales) then do not
    see a neuron that only the bias drives.
    """
    backbone = leaky_backbone(model)
    index = sorted({int(i) for i in neurons})
    bad = [i for i in index if not 0 <= i < backbone.hidden_size]
    if bad:
        raise ConfigError(f"neuron {bad[0]} does not exist; neurons are 0..{backbone.hidden_size - 1}")
    result = copy.deepcopy(model)
    if not index:
        return result
    target = leaky_backbone(result)
    rows = torch.as_tensor(index, dtype=torch.long)
    with torch.no_grad():
        target.w_rec[rows, :] = 0.0
        target.w_rec[:, rows] = 0.0
        target.w_in[rows, :] = 0.0
        target.b_in[rows] = 0.0
        target.b_rec[rows] = 0.0
        result.heads.weight[:, :, rows] = 0.0
    return result


def perturb_w_rec(model: MemoryTaskModule, epsilon: float, generator: torch.Generator) -> MemoryTaskModule:
    """A copy with ``W_R + epsilon * xi / ||xi||_F * ||W_R||_F``, ``xi ~ N(0, I)`` (paper Eq. 4).

    ``W_R`` is the effective matrix (diagonal removed) and ``xi`` has a zero diagonal
    too, so the perturbed network still has no self-connections and the identity
    ``||W~_R - W_R||_F = epsilon * ||W_R||_F`` holds for the weights the dynamics use.
    The sum is formed in float64 and rounded once.
    """
    epsilon = _check_strength("epsilon", epsilon)
    result = copy.deepcopy(model)
    backbone = leaky_backbone(result)
    w = backbone.effective_w_rec().detach().double()
    mask = backbone.off_diagonal.double()
    xi = torch.randn(w.shape, generator=generator, dtype=torch.float64) * mask.cpu()
    xi = xi.to(w.device)
    xi_norm = torch.linalg.matrix_norm(xi)
    # A 1-neuron network has no off-diagonal entry to perturb.
    delta = xi * (epsilon * torch.linalg.matrix_norm(w) / xi_norm) if xi_norm > 0 else torch.zeros_like(w)
    with torch.no_grad():
        backbone.w_rec.copy_((w + delta).to(backbone.w_rec.dtype))
    return result


def perturb_tau(model: MemoryTaskModule, epsilon: float, generator: torch.Generator) -> MemoryTaskModule:
    """A copy with ``tau + epsilon * |xi| / ||xi|| * ||tau||``, ``xi ~ N(0, I)`` (paper Eq. 4).

    The perturbation is positive, so no timescale drops (and none falls below 1).
    ``tau`` is the effective timescale ``max(tau, 1)`` the dynamics use, so
    ``||tau~ - tau|| = epsilon * ||tau||`` holds for the dynamics. Entries whose
    increment is zero (all of them at epsilon = 0) keep their stored value, so
    epsilon = 0 returns an exact copy.
    """
    epsilon = _check_strength("epsilon", epsilon)
    result = copy.deepcopy(model)
    backbone = leaky_backbone(result)
    raw = backbone.tau.detach().double()
    tau = backbone.effective_tau().detach().double()
    xi = torch.randn(tau.shape, generator=generator, dtype=torch.float64).to(tau.device)
    delta = xi.abs() * (epsilon * torch.linalg.vector_norm(tau) / torch.linalg.vector_norm(xi))
    new = torch.where(delta > 0, tau + delta, raw)
    with torch.no_grad():
        backbone.tau.copy_(new.to(backbone.tau.dtype))
    return result


def scale_inhibition(model: MemoryTaskModule, c: float) -> MemoryTaskModule:
    """A copy with every negative recurrent weight scaled: ``W_ij <- W_ij + c W_ij`` if ``W_ij < 0`` (Eq. 7).

    ``c < 0`` weakens inhibition (``c = -1`` removes it); ``c > 0`` strengthens it.
    ``c < -1`` would turn inhibitory weights excitatory and is refused.
    """
    c = _check_strength("c", c, low=-1.0)
    result = copy.deepcopy(model)
    backbone = leaky_backbone(result)
    with torch.no_grad():
        w = backbone.w_rec
        w.copy_(torch.where(w < 0, w * (1.0 + c), w))
    return result
