"""Drive a trained network with uncorrelated Bernoulli bits and record every neuron.

This is the paper's protocol for measuring timescales (Sec. 2): inputs with no
temporal structure, so any autocorrelation in r(t) comes from the network itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from rnn_timescales.backbones import LeakyRNN
from rnn_timescales.errors import ConfigError


def bernoulli_drive(
    trials: int, steps: int, p: float | None, generator: torch.Generator
) -> tuple[torch.Tensor, np.ndarray]:
    """Input bits ``[steps, trials, 1]`` and the bit probability of each trial.

    ``p=None`` draws one ``p ~ U(0, 1)`` per trial, as the parity training data does.
    """
    if p is None:
        probabilities = torch.rand(trials, generator=generator)
    else:
        if not 0.0 <= p <= 1.0:
            raise ConfigError(f"bit probability p must be in [0, 1], got {p}")
        probabilities = torch.full((trials,), float(p))
    bits = torch.bernoulli(probabilities.expand(steps, trials), generator=generator)
    return bits[:, :, None], probabilities.numpy()


@torch.no_grad()
def simulate_activity(
    backbone: nn.Module,
    trials: int = 10,
    steps: int = 100_000,
    burn_in: int = 500,
    p: float | None = None,
    seed: int = 0,
    chunk: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Activity ``[trials, steps, neurons]`` (float32) after ``burn_in`` dropped steps.

    All trials run as one batch without gradients, in chunks of ``chunk`` steps so
    the recorded array is the only large allocation.

    Args:
        backbone: the recurrent network (any backbone; LeakyRNN continues its state
            across chunks, gated ones run the whole sequence at once).
        trials: independent input realisations (paper: 10).
        steps: recorded steps per trial (paper: 100,000).
        burn_in: steps simulated first and dropped (transient from r(0)).
        p: bit probability; ``None`` draws one per trial from U(0, 1).
        seed: seed of the input bits and of the initial state.
        chunk: steps simulated per call.
        progress: called with the number of steps just simulated.

    Returns:
        activity and the bit probability of each trial.
    """
    for name, value, low in [("trials", trials, 1), ("steps", steps, 2), ("burn_in", burn_in, 0)]:
        if value < low:
            raise ConfigError(f"{name} must be >= {low}, got {value}")
    generator = torch.Generator().manual_seed(seed)
    total = burn_in + steps
    bits, probabilities = bernoulli_drive(trials, total, p, generator)
    parameter = next(backbone.parameters())
    bits = bits.to(parameter)
    activity = np.empty((trials, steps, backbone.hidden_size), dtype=np.float32)
    if not isinstance(backbone, LeakyRNN):
        trajectory = backbone(bits, return_trajectory=True)
        activity[:] = trajectory[burn_in:].transpose(0, 1).float().cpu().numpy()
        if progress:
            progress(total)
        return activity, probabilities
    state = backbone.initial_state(trials, bits)
    if backbone.init_state == "uniform":  # reproducible r(0): from the seeded generator
        state = torch.rand(state.shape, generator=generator).to(bits) * backbone.init_state_scale
    for start in range(0, total, chunk):
        stop = min(start + chunk, total)
        trajectory = backbone(bits[start:stop], state, return_trajectory=True)
        state = trajectory[-1]
        keep_from = max(burn_in, start)
        if stop > keep_from:
            piece = trajectory[keep_from - start :].transpose(0, 1).float().cpu().numpy()
            activity[:, keep_from - burn_in : stop - burn_in] = piece
        if progress:
            progress(stop - start)
    return activity, probabilities
