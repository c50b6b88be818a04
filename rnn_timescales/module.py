"""The LightningModule: a recurrent backbone plus a bank of readout heads, one per N.

Loss = sum over the active heads of the cross-entropy of the answer at the last
time step (so no head is forgotten in the multi-head curriculum).
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.cli import OptimizerCallable
from lightning.pytorch.loggers import TensorBoardLogger
from torch import Tensor, nn

from rnn_timescales import allocator
from rnn_timescales.backbones import LeakyRNN
from rnn_timescales.errors import ConfigError
from rnn_timescales.heads import ReadoutHeads
from rnn_timescales.metrics import HeadAccuracy


class MemoryTaskModule(L.LightningModule):
    """Train a recurrent backbone on memory tasks with a growing set of readout heads.

    Args:
        backbone: maps inputs ``[time, batch, 1]`` to hidden states (``LeakyRNN``, ``GRU``,
            ``LSTM`` or any ``nn.Module`` with that interface and a ``hidden_size``).
        head_capacity: readout slots preallocated (the authors used 100: N up to 101).
        lr: learning rate of the default optimizer (paper: 0.05).
        momentum: Nesterov momentum of the default optimizer (paper: 0.1).
        optimizer: any other optimizer, e.g. ``torch.optim.Adam``; replaces the default
            SGD (then ``lr``/``momentum`` are ignored).
        flush_denormal: flush subnormal floats to zero on the CPU during training. Why:
            gradients vanishing back through long sequences reach the subnormal range,
            where x86 arithmetic is ~100x slower (a training step at N=50 was 8x slower
            with them); values below 1e-38 change nothing else.
        keep_freed_memory: on Linux (glibc), keep the large blocks a training step frees
            for the next step instead of returning them to the OS, which made every step
            fault them in again (7-12% of a step; see ``rnn_timescales/allocator.py``).
            The process then keeps its peak memory until it exits.
    """

    def __init__(
        self,
        backbone: nn.Module | None = None,
        head_capacity: int = 100,
        lr: float = 0.05,
        momentum: float = 0.1,
        optimizer: OptimizerCallable | None = None,
        flush_denormal: bool = True,
        keep_freed_memory: bool = True,
    ) -> None:
        super().__init__()
        if not lr > 0:
            raise ConfigError(f"model.lr must be > 0, got {lr}")
        if not 0 <= momentum < 1:
            raise ConfigError(f"model.momentum must be in [0, 1), got {momentum}")
        self.backbone = backbone if backbone is not None else LeakyRNN()
        self.heads = ReadoutHeads(self.backbone.hidden_size, head_capacity)
        self.lr = lr
        self.momentum = momentum
        self.optimizer_factory = optimizer
        self.flush_denormal = flush_denormal
        self.keep_freed_memory = keep_freed_memory
        # The backbone's class and arguments make the checkpoint loadable on its own.
        self.save_hyperparameters(ignore=["backbone", "optimizer"])
        self.hparams["backbone"] = {
            "class_path": f"{type(self.backbone).__module__}.{type(self.backbone).__name__}",
            "init_args": dict(getattr(self.backbone, "config", {})),
        }
        self.val_accuracy = HeadAccuracy(head_capacity)
        self.last_val_accuracy: dict[int, float] = {}

    def setup(self, stage: str) -> None:
        self.use_cpu_training_settings()

    def use_cpu_training_settings(self) -> None:
        """Apply the process-wide settings training relies on for speed (the two flags above)."""
        if self.flush_denormal:
            torch.set_flush_denormal(True)
        if self.keep_freed_memory:
            allocator.keep_freed_memory()

    def forward(self, inputs: Tensor, ns: Sequence[int]) -> Tensor:
        """Logits ``[batch, len(ns), 2]`` of the heads for ``ns`` at the last step."""
        return self.heads(self.backbone(inputs), ns)

    def _loss(self, batch) -> tuple[Tensor, Tensor, Tensor, list[int]]:
        inputs, labels, ns = batch
        if len(ns) == 0:
            raise RuntimeError("the model has no readout head; add the Curriculum callback")
        logits = self(inputs, ns)
        per_head = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")
        per_head = per_head.view_as(labels).mean(0)
        return per_head.sum(), per_head, logits, list(ns)

    def training_step(self, batch, batch_idx: int) -> Tensor:
        loss, per_head, _, ns = self._loss(batch)
        batch_size = batch[1].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=batch_size)
        self.log("curriculum/n_max", float(max(ns)), batch_size=batch_size)
        self.log("curriculum/heads", float(len(ns)), batch_size=batch_size)
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        loss, _, logits, ns = self._loss(batch)
        self.log("val/loss", loss, batch_size=batch[1].shape[0], sync_dist=True)
        slots = torch.as_tensor(self.heads.slots(ns), device=logits.device)
        self.val_accuracy.update(logits, batch[1], slots)

    def on_validation_epoch_end(self) -> None:
        accuracy = self.val_accuracy.compute()  # reduced over all DDP ranks
        self.val_accuracy.reset()
        ns = self.heads.active_ns()
        per_n = {n: float(accuracy[slot]) for n, slot in zip(ns, self.heads.slots(ns))}
        per_n = {n: a for n, a in per_n.items() if a == a}  # heads that saw validation data
        self.last_val_accuracy = per_n
        for n, value in per_n.items():
            self.log(f"val/acc/N={n}", value)
        if per_n:
            self.log("val/acc_mean", sum(per_n.values()) / len(per_n), prog_bar=True)
        self._log_tau()

    def _log_tau(self) -> None:
        if not hasattr(self.backbone, "effective_tau"):
            return
        tau = self.backbone.effective_tau().detach()
        self.log("tau/mean", tau.mean())
        self.log("tau/std", tau.std())
        if self.trainer.is_global_zero and isinstance(self.logger, TensorBoardLogger):
            self.logger.experiment.add_histogram("tau", tau.float().cpu(), self.global_step)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_factory is not None:
            return self.optimizer_factory(self.parameters())
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=self.momentum, nesterov=True)
