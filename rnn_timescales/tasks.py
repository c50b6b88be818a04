"""The two memory tasks as pure functions on bit sequences.

A batch is ``L`` bits for each of ``B`` sequences, time-major ``[L, B]``. One sequence
carries the label of every N at once: the label of N at step t only looks at the
bits up to t, so a batch for the Ns {2, 3, 7} is just three label columns.

* N-parity: ``y_N(t) = (s(t) + s(t-1) + ... + s(t-N+1)) mod 2``. Each sequence has its
  own bit probability ``p ~ U(0, 1)`` (as the authors trained), bits ~ Bernoulli(p).
* N-DMS (delayed match-to-sample): ``y_N(t) = 1`` if ``s(t) == s(t-N+1)``, bits ~
  Bernoulli(0.5).

During training only the label at the last step is scored. The sequence length is
drawn per batch, uniformly from ``N_max + 2 .. 4 N_max + 1`` (``N_max`` = largest N asked).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor

from rnn_timescales.errors import ConfigError

Task = Literal["parity", "dms"]
TASKS: tuple[str, ...] = ("parity", "dms")


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")


def check_ns(ns: Sequence[int]) -> None:
    if len(ns) == 0:
        raise ConfigError("need at least one N")
    bad = [n for n in ns if int(n) < 2]
    if bad:
        raise ConfigError(f"N must be >= 2 (N=1 needs no memory), got {bad[0]}")


def draw_length(n_max: int, generator: torch.Generator) -> int:
    """Sequence length, uniform on the integers ``n_max + 2 .. 4 n_max + 1``."""
    return int(torch.randint(n_max + 2, 4 * n_max + 2, (1,), generator=generator))


def draw_bits(task: Task, length: int, batch_size: int, generator: torch.Generator) -> Tensor:
    """Input bits ``[length, batch]`` (float 0/1) for ``task``."""
    check_task(task)
    if task == "parity":
        p = torch.rand(batch_size, generator=generator)
    else:
        p = torch.full((batch_size,), 0.5)
    return torch.bernoulli(p.expand(length, batch_size), generator=generator)


def labels_at_end(task: Task, bits: Tensor, ns: Sequence[int]) -> Tensor:
    """Label of every N in ``ns`` at the last step: ``[batch, len(ns)]`` (int64).

    Needs ``len(bits) >= max(ns)``.
    """
    check_task(task)
    check_ns(ns)
    length = bits.shape[0]
    if length < max(ns):
        raise ValueError(f"sequence of length {length} is shorter than N={max(ns)}")
    n = torch.as_tensor(list(ns), dtype=torch.long)
    if task == "parity":
        # Sums of the last N bits for all N at once from one cumulative sum from the end.
        tail_sums = bits.flip(0).cumsum(0)  # tail_sums[k] = sum of the last k+1 bits
        return (tail_sums[n - 1].T.round().long() % 2)
    return (bits[-1][:, None] == bits[length - n].T).long()


def labels_in_time(task: Task, bits: Tensor, n: int) -> Tensor:
    """Label of one N at every step: ``[length, batch]`` (int64), ``-1`` where undefined.

    The first ``n - 1`` steps have no label (fewer than N bits seen).
    """
    check_task(task)
    check_ns([n])
    length = bits.shape[0]
    labels = torch.full(bits.shape, -1, dtype=torch.long)
    if length < n:
        return labels
    if task == "parity":
        csum = torch.cat([bits.new_zeros(1, bits.shape[1]), bits.cumsum(0)])
        window = csum[n:] - csum[:-n]  # window[k] = sum of bits k .. k+n-1
        labels[n - 1 :] = window.round().long() % 2
    else:
        labels[n - 1 :] = (bits[n - 1 :] == bits[: length - n + 1]).long()
    return labels


def draw_batch(
    task: Task, ns: Sequence[int], batch_size: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """A fresh batch for the Ns in ``ns``: inputs ``[L, B, 1]`` and labels ``[B, len(ns)]``."""
    check_ns(ns)
    length = draw_length(max(ns), generator)
    bits = draw_bits(task, length, batch_size, generator)
    return bits[:, :, None], labels_at_end(task, bits, ns)
