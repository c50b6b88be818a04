"""The curriculum: which Ns the network is trained on, and when to move on.

* ``multi`` (multi-head): start with one head for ``n_start``; once solved, add a head for
  N+1 and keep training all heads together, so nothing is forgotten.
* ``single`` (single-head): one head; once N is solved it is trained on N+1 (same
  weights, same head), so earlier Ns may be forgotten.

"Solved" means that, at a validation check, the mean accuracy over the active heads
and the accuracy of the newest head (largest N) are both at least ``threshold``
(paper: 0.98). The check runs at every validation, i.e. after every
``data.train_batches`` training batches (Lightning's ``val_check_interval`` also works).

The Ns themselves live in the model's head bank (``ReadoutHeads.head_n``), which is
part of the model's state; this callback keeps the history of advances in its own
state. Both are in every checkpoint, so ``fit --ckpt_path ...`` resumes exactly.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info

from rnn_timescales.errors import ConfigError

MODES = ("multi", "single")


def next_ns(mode: str, ns: list[int]) -> list[int]:
    """The Ns to train on after ``ns`` is solved (window and fixed-set modes slot in here)."""
    if mode == "multi":
        return ns + [max(ns) + 1]
    if mode == "single":
        return [max(ns) + 1]
    raise ConfigError(f"unknown curriculum mode {mode!r}; allowed: {', '.join(MODES)}")


def _label(ns: list[int]) -> str:
    return f"N={ns[0]}" if len(ns) == 1 else f"N={ns[0]}..{ns[-1]}"


def is_solved(accuracy: dict[int, float], threshold: float) -> bool:
    """Mean accuracy over heads and the newest head's accuracy both reach ``threshold``."""
    if not accuracy:
        return False
    mean = sum(accuracy.values()) / len(accuracy)
    return mean >= threshold and accuracy[max(accuracy)] >= threshold


class Curriculum(Callback):
    """Grow N (or add heads) whenever the current task is solved.

    Args:
        mode: ``"multi"`` (a new head per N, all trained) or ``"single"`` (one head, N grows).
        n_start: the first N (>= 2).
        n_final: stop training once this N is solved.
        threshold: accuracy needed to advance, in (0, 1] (paper: 0.98).
        save_checkpoints: save ``N<lo>-N<hi>.ckpt`` each time a range of Ns is solved.
        checkpoint_dir: where those go; default ``<run folder>/checkpoints``.
    """

    def __init__(
        self,
        mode: Literal["multi", "single"] = "multi",
        n_start: int = 2,
        n_final: int = 101,
        threshold: float = 0.98,
        save_checkpoints: bool = True,
        checkpoint_dir: str | None = None,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown curriculum mode {mode!r}; allowed: {', '.join(MODES)}")
        if n_start < 2:
            raise ConfigError(f"n_start must be >= 2 (N=1 needs no memory), got {n_start}")
        if n_final < n_start:
            raise ConfigError(f"n_final must be >= n_start={n_start}, got {n_final}")
        if not 0 < threshold <= 1:
            raise ConfigError(f"threshold must be in (0, 1], got {threshold}")
        self.mode = mode
        self.n_start = n_start
        self.n_final = n_final
        self.threshold = threshold
        self.save_checkpoints = save_checkpoints
        self.checkpoint_dir = checkpoint_dir
        self.history: list[dict[str, Any]] = []
        self.finished = False
        self._elapsed_before = 0.0
        self._started = time.monotonic()

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "history": self.history,
            "finished": self.finished,
            "elapsed": self.elapsed(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict["mode"] != self.mode:
            raise ConfigError(
                f"the checkpoint was trained with curriculum mode {state_dict['mode']!r}, "
                f"this run asks for {self.mode!r}"
            )
        self.history = list(state_dict["history"])
        self.finished = bool(state_dict["finished"])
        self._elapsed_before = float(state_dict["elapsed"])
        self._started = time.monotonic()

    def elapsed(self) -> float:
        """Training wall time in seconds, across resumes."""
        return self._elapsed_before + time.monotonic() - self._started

    # ----------------------------------------------------------------- hooks
    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        heads = pl_module.heads
        needed = self.n_final - self.n_start + 1 if self.mode == "multi" else 1
        if needed > heads.capacity:
            # Fail before training, not hours in when the bank runs out.
            raise ConfigError(
                f"head capacity {heads.capacity} cannot hold N={self.n_start}..{self.n_final} in "
                f"multi mode ({needed} heads); raise model.head_capacity or lower curriculum.n_final"
            )
        if not heads.active_ns():
            heads.add(self.n_start)
        if self.save_checkpoints and self.checkpoint_dir is not None:
            try:  # find out now, not at the first solved N
                Path(self.checkpoint_dir).mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise ConfigError(f"curriculum.checkpoint_dir {self.checkpoint_dir!r} cannot be created: {error}")

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.monotonic()
        if self.finished:
            trainer.should_stop = True

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.finished:
            return
        heads = pl_module.heads
        ns = heads.active_ns()
        accuracy = {n: pl_module.last_val_accuracy[n] for n in ns if n in pl_module.last_val_accuracy}
        if len(accuracy) != len(ns) or not is_solved(accuracy, self.threshold):
            return
        event = {
            "ns": ns,
            "step": trainer.global_step,
            "epoch": trainer.current_epoch,
            "seconds": round(self.elapsed(), 2),
            "accuracy": {str(n): round(a, 5) for n, a in accuracy.items()},
        }
        self.history.append(event)
        for logger in trainer.loggers:  # rank-zero only inside the loggers
            logger.log_metrics(
                {"curriculum/solved_n": float(max(ns)), "curriculum/solved_seconds": event["seconds"]},
                step=trainer.global_step,
            )
        if self.save_checkpoints:
            trainer.save_checkpoint(self._checkpoint_path(trainer, ns), weights_only=False)
        mean = sum(accuracy.values()) / len(accuracy)
        label = _label(ns)
        if max(ns) >= self.n_final:
            self.finished = True
            trainer.should_stop = True
            rank_zero_info(
                f"[curriculum] solved {label} (mean acc {mean:.4f}) at epoch {trainer.current_epoch}, "
                f"step {trainer.global_step}, {event['seconds']:.0f} s: final N={self.n_final} reached, stopping"
            )
            return
        new = next_ns(self.mode, ns)
        if self.mode == "multi":
            heads.add(new[-1])
        else:
            heads.reassign(ns[-1], new[-1])
        rank_zero_info(
            f"[curriculum] solved {label} (mean acc {mean:.4f}) at epoch {trainer.current_epoch}, "
            f"step {trainer.global_step}, {event['seconds']:.0f} s -> now training {_label(new)}"
        )

    def _checkpoint_path(self, trainer: L.Trainer, ns: list[int]) -> str:
        folder = Path(self.checkpoint_dir or Path(trainer.log_dir or trainer.default_root_dir) / "checkpoints")
        return str(folder / f"N{ns[0]}-N{ns[-1]}.ckpt")
