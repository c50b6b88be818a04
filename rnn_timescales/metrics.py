"""Accuracy of every readout head, as a torchmetrics object (summed over DDP ranks)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric


class HeadAccuracy(Metric):
    """Fraction of correct answers per head slot.

    Args:
        capacity: number of head slots tracked.
    """

    full_state_update = False

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.add_state("correct", torch.zeros(capacity, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros(capacity, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, logits: Tensor, labels: Tensor, slots: Tensor) -> None:
        """``logits [B, K, 2]``, ``labels [B, K]``, ``slots [K]``: the slot of each column."""
        hits = (logits.argmax(-1) == labels).sum(0)
        self.correct.index_add_(0, slots, hits)
        self.total.index_add_(0, slots, torch.full_like(hits, labels.shape[0]))

    def compute(self) -> Tensor:
        """Accuracy per slot; NaN for slots that saw no sample."""
        return self.correct.double() / self.total.double()
