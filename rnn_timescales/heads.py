"""A bank of readout heads, one per N, preallocated with a fixed capacity.

Why a preallocated bank instead of appending ``nn.Linear``s as the curriculum grows:
the optimizer is built once and keeps its momentum when a head is switched on; a
checkpoint always has the same tensor shapes (resuming never hits a size mismatch);
and DDP sees the same parameters from start to end (no parameter created after DDP
wrapped the model, no unused-parameter error: the bank is one tensor that is always
used, inactive rows simply get zero gradient).

``head_n[k]`` is the N that slot ``k`` answers, ``-1`` for a slot not in use. It is a
buffer, so it is saved in every checkpoint with the weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rnn_timescales.errors import ConfigError


class ReadoutHeads(nn.Module):
    """``capacity`` linear maps from the hidden state to 2 logits, each assigned to one N.

    Args:
        hidden_size: size of the hidden state read out.
        capacity: number of slots (the authors stored 100: N up to 101 from N = 2).
    """

    def __init__(self, hidden_size: int, capacity: int = 100) -> None:
        super().__init__()
        if capacity < 1:
            raise ConfigError(f"head capacity must be >= 1, got {capacity}")
        bound = 1 / math.sqrt(hidden_size)
        self.weight = nn.Parameter(torch.empty(capacity, 2, hidden_size).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(capacity, 2).uniform_(-bound, bound))
        self.register_buffer("head_n", torch.full((capacity,), -1, dtype=torch.long))
        self._active_ns: list[int] | None = None

    @property
    def capacity(self) -> int:
        return self.head_n.numel()

    def active_ns(self) -> list[int]:
        """The Ns that have a head, in increasing order."""
        # Cached on the Python side: the data stream asks for every batch, and reading
        # a GPU buffer each time would stall the device.
        if self._active_ns is None:
            self._active_ns = sorted(int(n) for n in self.head_n.tolist() if n >= 0)
        return list(self._active_ns)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._active_ns = None

    def slots(self, ns: Sequence[int]) -> list[int]:
        """Slot index of each N in ``ns``."""
        lookup = {int(n): k for k, n in enumerate(self.head_n.tolist()) if n >= 0}
        missing = [n for n in ns if int(n) not in lookup]
        if missing:
            raise KeyError(f"no readout head for N={missing[0]}; heads exist for N={self.active_ns()}")
        return [lookup[int(n)] for n in ns]

    def add(self, n: int) -> int:
        """Switch on the first free slot for ``n``; returns the slot."""
        n = int(n)
        if n in self.active_ns():
            raise ValueError(f"a head for N={n} exists already")
        free = (self.head_n < 0).nonzero()
        if len(free) == 0:
            raise ConfigError(
                f"cannot add a head for N={n}: all {self.capacity} heads are in use "
                f"(N={self.active_ns()[0]}..{self.active_ns()[-1]}); raise model.head_capacity"
            )
        slot = int(free[0])
        self.head_n[slot] = n
        self._active_ns = None
        return slot

    def reassign(self, old_n: int, new_n: int) -> int:
        """Let the head of ``old_n`` answer ``new_n`` from now on, keeping its weights."""
        (slot,) = self.slots([old_n])
        self.head_n[slot] = int(new_n)
        self._active_ns = None
        return slot

    def forward(self, hidden: Tensor, ns: Sequence[int]) -> Tensor:
        """Logits ``[..., len(ns), 2]`` of the heads for ``ns`` on ``hidden`` ``[..., hidden_size]``."""
        index = torch.as_tensor(self.slots(ns), device=self.weight.device)
        weight, bias = self.weight[index], self.bias[index]  # [K, 2, H], [K, 2]
        return torch.einsum("...h,kch->...kc", hidden, weight) + bias
