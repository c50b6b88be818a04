"""Accuracy of every head of a network on fresh sequences (the paper's validation)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnn_timescales.module import MemoryTaskModule
from rnn_timescales.tasks import Task, draw_batch


@torch.no_grad()
def head_accuracy(
    model: MemoryTaskModule,
    task: Task = "parity",
    ns: Sequence[int] | None = None,
    batches: int = 50,
    batch_size: int = 256,
    seed: int = 0,
) -> dict[int, float]:
    """Fraction of correct answers at the last step, per N, on ``batches`` fresh batches.

    Args:
        model: the network; its heads for ``ns`` are used.
        task: ``"parity"`` or ``"dms"``.
        ns: the Ns to test; default every N the model has a head for.
        batches: fresh batches drawn (each with its own length, as in training).
        batch_size: sequences per batch.
        seed: seed of the sequences.
    """
    ns = list(ns) if ns is not None else model.heads.active_ns()
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    correct = torch.zeros(len(ns))
    for _ in range(batches):
        inputs, labels = draw_batch(task, ns, batch_size, generator)
        logits = model(inputs.to(device), ns)
        correct += (logits.argmax(-1).cpu() == labels).double().sum(0)
    return {n: float(c) / (batches * batch_size) for n, c in zip(ns, correct)}
