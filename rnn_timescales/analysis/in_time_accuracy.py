"""Accuracy "in time" (paper Appendix L) and the relative accuracy of Sec. 4.3.

Protocol: one stream of Bernoulli(0.5) bits per trial (for N-parity too, unlike the
training data, whose bit probability varies per sequence), ``burn_in`` steps to reach
the stationary state, then the answer of the head for N is read at every one of the
next ``steps`` steps and compared with the label of that step
(``tasks.labels_in_time``). All trials run as one batch.

Relative accuracy (Sec. 4.3)::

    acc_rel = (acc - 0.5) / (acc_base - 0.5)

1 = the intervention changed nothing, <= 0 = chance or worse.

A trial whose activity (or whose logits) contains inf or NaN anywhere has *diverged*:
it scores chance, 0.5, and is counted. NaN logits must never reach ``argmax``, which
would return some index for them and so count answers as correct by accident.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnn_timescales.analysis.simulate import bernoulli_drive
from rnn_timescales.backbones import LeakyRNN
from rnn_timescales.errors import ConfigError
from rnn_timescales.module import MemoryTaskModule
from rnn_timescales.tasks import Task, check_task, labels_in_time

CHANCE = 0.5


@dataclass(frozen=True)
class InTimeSettings:
    """How accuracy is measured (defaults: the paper's Appendix L).

    Args:
        task: ``"parity"`` or ``"dms"``.
        n: the N whose head is read; ``None`` = the largest N the network has a head for.
        trials: independent input streams (one batch).
        steps: scored steps per trial after the burn-in.
        burn_in: unscored steps at the start of each trial.
        seed: seed of the input bits and of the initial state. Every intervention of one
            analysis is measured with the same seed, so base and intervention see the
            same inputs (a paired comparison).
    """

    task: Task = "parity"
    n: int | None = None
    trials: int = 10
    steps: int = 1000
    burn_in: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        check_task(self.task)
        for name, value, low in [("trials", self.trials, 1), ("steps", self.steps, 1),
                                 ("burn_in", self.burn_in, 0)]:
            if value < low:
                raise ConfigError(f"{name} must be >= {low}, got {value}")
        if self.n is not None and self.n < 2:
            raise ConfigError(f"n must be >= 2 (N=1 needs no memory), got {self.n}")

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class InTimeAccuracy:
    """Per-trial results of one accuracy measurement.

    ``per_trial`` already holds 0.5 for diverged trials; ``activity_*`` are NaN for them.
    """

    n: int
    per_trial: np.ndarray  # [trials] fraction of scored steps answered correctly
    diverged: np.ndarray  # [trials] bool
    activity_mean: np.ndarray  # [trials] mean of r over scored steps and neurons
    activity_abs_max: np.ndarray  # [trials] largest |r| over the whole trial

    @property
    def mean(self) -> float:
        return float(self.per_trial.mean())

    @property
    def std(self) -> float:
        """Population standard deviation over trials (``ddof=0``, numpy's default)."""
        return float(self.per_trial.std())

    @property
    def n_diverged(self) -> int:
        return int(self.diverged.sum())


def relative_accuracy(accuracy: float | np.ndarray, base: float) -> float | np.ndarray:
    """``acc_rel = (acc - 0.5) / (acc_base - 0.5)``.

    NaN where ``base <= 0.5``: a network at chance has no accuracy to lose, and the
    ratio would be meaningless (or infinite).
    """
    accuracy = np.asarray(accuracy, dtype=float)
    if not base > CHANCE:
        result = np.full(accuracy.shape, np.nan)
    else:
        result = (accuracy - CHANCE) / (base - CHANCE)
    return float(result) if result.ndim == 0 else result


def seeded_initial_state(backbone: nn.Module, batch_size: int, generator: torch.Generator) -> Tensor | None:
    """``r(0)`` drawn from ``generator`` so a measurement is reproducible.

    ``LeakyRNN.initial_state`` draws from the global RNG; here the same distribution is
    drawn from the measurement's own generator. ``None`` for backbones that ignore ``r0``.
    """
    if not isinstance(backbone, LeakyRNN):
        return None
    if backbone.init_state == "zeros":
        return torch.zeros(batch_size, backbone.hidden_size)
    return torch.rand(batch_size, backbone.hidden_size, generator=generator) * backbone.init_state_scale


def largest_n(model: MemoryTaskModule) -> int:
    ns = model.heads.active_ns()
    if not ns:
        raise ConfigError("the network has no readout head, so there is no N to measure")
    return max(ns)


def resolve_n(model: MemoryTaskModule, n: int | None) -> int:
    """``n``, or the network's largest N; a ConfigError if it has no head for ``n``."""
    if n is None:
        return largest_n(model)
    if n not in model.heads.active_ns():
        raise ConfigError(f"the network has no head for N={n}; heads exist for N={model.heads.active_ns()}")
    return int(n)


@torch.no_grad()
def accuracy_in_time(model: MemoryTaskModule, settings: InTimeSettings | None = None) -> InTimeAccuracy:
    """Accuracy of the head for N read at every step of a Bernoulli(0.5) stream (Appendix L).

    Per trial ``k``: ``acc_k = mean over scored steps t of [argmax logits_N(t) == y_N(t)]``,
    steps with an undefined label (``t < N - 1``, only possible when the burn-in is
    shorter than N) excluded. A trial with any non-finite activity or logit scores 0.5.
    """
    settings = settings or InTimeSettings()
    n = resolve_n(model, settings.n)
    total = settings.burn_in + settings.steps
    if total < n:
        raise ConfigError(
            f"burn_in + steps = {total} is shorter than N={n}: no step has a label; use more steps"
        )
    generator = torch.Generator().manual_seed(settings.seed)
    bits, _ = bernoulli_drive(settings.trials, total, CHANCE, generator)  # [T, B, 1]
    labels = labels_in_time(settings.task, bits[:, :, 0], n)[settings.burn_in:]  # [steps, B]
    backbone = model.backbone
    parameter = next(model.parameters())
    r0 = seeded_initial_state(backbone, settings.trials, generator)
    r0 = r0.to(parameter) if r0 is not None else None
    trajectory = backbone(bits.to(parameter), r0, return_trajectory=True)  # [T, B, H]
    scored = trajectory[settings.burn_in:]
    logits = model.heads(scored, [n])[..., 0, :].cpu()  # [steps, B, 2]

    finite = torch.isfinite(trajectory).all(dim=2).all(dim=0).cpu() & torch.isfinite(logits).all(dim=2).all(dim=0)
    valid = labels >= 0
    hits = (logits.argmax(-1) == labels) & valid
    per_trial = hits.sum(0).double() / valid.sum(0).double()
    per_trial = torch.where(finite, per_trial, torch.full_like(per_trial, CHANCE))

    scored_cpu = scored.double().cpu()
    activity_mean = torch.where(finite, scored_cpu.mean(dim=(0, 2)), torch.full_like(per_trial, float("nan")))
    abs_max = trajectory.abs().amax(dim=(0, 2)).double().cpu()
    abs_max = torch.where(finite, abs_max, torch.full_like(abs_max, float("nan")))
    return InTimeAccuracy(
        n=n,
        per_trial=per_trial.numpy(),
        diverged=(~finite).numpy(),
        activity_mean=activity_mean.numpy(),
        activity_abs_max=abs_max.numpy(),
    )
