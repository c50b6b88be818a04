"""Streams of fresh Bernoulli sequences for training and validation.

Every batch is drawn when it is needed, for the Ns the model has heads for at that
moment (read through ``ns_source``), so the first batch after a curriculum advance
already carries the new N's labels. Each batch carries the Ns it was drawn for,
so a batch is never scored against heads it was not made for.

Streams are reproducible: the generator of each epoch's stream is seeded from
(seed, DDP rank, stage, epoch count), so ranks see different sequences, a rerun with
the same seed sees the same ones, and a resumed run continues the stream (the
counts are part of the checkpoint).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset

from rnn_timescales.errors import ConfigError
from rnn_timescales.tasks import TASKS, Task, check_task, draw_batch

# The stream is an IterableDataset with a length on purpose (one epoch = one check
# cadence) and runs in the main process on purpose (it follows the curriculum).
for _message in (".*IterableDataset.*has `__len__` defined.*", ".*does not have many workers.*"):
    warnings.filterwarnings("ignore", message=_message)


class BatchStream(IterableDataset):
    """``batches`` fresh batches ``(inputs [L, B, 1], labels [B, K], ns)`` per pass."""

    def __init__(
        self,
        task: Task,
        batch_size: int,
        batches: int,
        ns_source: Callable[[], list[int]],
        next_seed: Callable[[], int],
    ) -> None:
        self.task = task
        self.batch_size = batch_size
        self.batches = batches
        self.ns_source = ns_source
        self.next_seed = next_seed

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, tuple[int, ...]]]:
        generator = torch.Generator().manual_seed(self.next_seed())
        for _ in range(self.batches):
            ns = tuple(self.ns_source())
            inputs, labels = draw_batch(self.task, ns, self.batch_size, generator)
            yield inputs, labels, ns


class MemoryTaskData(L.LightningDataModule):
    """Bernoulli input streams for N-parity or N-DMS, for whatever Ns the model has heads.

    Args:
        task: ``"parity"`` or ``"dms"``.
        batch_size: sequences per training batch (paper: 256).
        train_batches: training batches per epoch; validation runs after each epoch, so
            this is the curriculum's check cadence (paper: 600).
        val_batches: fresh validation batches per check (paper: 50).
        val_batch_size: sequences per validation batch; defaults to ``batch_size``.
        seed: base seed of the streams; defaults to the seed given to ``seed_everything``.
    """

    def __init__(
        self,
        task: Task = "parity",
        batch_size: int = 256,
        train_batches: int = 600,
        val_batches: int = 50,
        val_batch_size: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        check_task(task)
        for name, value in [("batch_size", batch_size), ("train_batches", train_batches),
                            ("val_batches", val_batches), ("val_batch_size", val_batch_size)]:
            if value is not None and value < 1:
                raise ConfigError(f"data.{name} must be >= 1, got {value}")
        self.task = task
        self.batch_size = batch_size
        self.train_batches = train_batches
        self.val_batches = val_batches
        self.val_batch_size = val_batch_size or batch_size
        self.seed = seed
        self.ns_source: Callable[[], list[int]] | None = None
        self.rank = 0
        self.passes = {"train": 0, "val": 0}

    def setup(self, stage: str) -> None:
        if self.seed is None:
            self.seed = torch.initial_seed() % 2**63  # what seed_everything set
        if self.trainer is not None:
            self.rank = self.trainer.global_rank
            model = self.trainer.lightning_module
            inputs = getattr(model.backbone, "input_size", 1)
            if inputs != 1:
                raise ConfigError(f"the memory tasks feed one bit per step: backbone input_size must be 1, got {inputs}")
            if self.ns_source is None:
                self.ns_source = model.heads.active_ns

    def _next_seed(self, stage: str) -> int:
        stage_id = {"train": 0, "val": 1}[stage]
        entropy = [int(self.seed), self.rank, stage_id, self.passes[stage]]
        self.passes[stage] += 1
        return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0] >> 1)

    def _loader(self, stage: str, batch_size: int, batches: int) -> DataLoader:
        if self.ns_source is None:
            raise RuntimeError("MemoryTaskData needs ns_source (set by setup() from the model's heads)")
        stream = BatchStream(self.task, batch_size, batches, self.ns_source, lambda: self._next_seed(stage))
        # batch_size=None: the stream yields whole batches. No workers: drawing a batch is
        # cheap, and the stream must see the curriculum's current Ns in this process.
        return DataLoader(stream, batch_size=None, num_workers=0)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size, self.train_batches)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", self.val_batch_size, self.val_batches)

    def state_dict(self) -> dict:
        return {"seed": self.seed, "passes": dict(self.passes)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.seed = state_dict["seed"]
        self.passes = dict(state_dict["passes"])


__all__ = ["MemoryTaskData", "BatchStream", "TASKS"]
