"""Retraining a trained network on other Ns (paper Sec. 4.3 Fig. 7e; Appendix H, Fig. S17).

* :func:`retrain_higher_n` - from a network that solves N, train a fresh head with all
  weights trainable on each N' > N, without curriculum, for a fixed budget; report
  ``acc_rel = (acc_N' - 0.5) / (acc_base - 0.5)``, acc_base = the original network's
  accuracy on its own N.
* :func:`retrain_readout` / :func:`readout_matrix` - freeze everything but a fresh head,
  train it on N* for at most a few epochs or until the accuracy reaches 98%; the
  accuracy matrix (N trained) x (N* retrained).

A plain PyTorch loop, the same recipe as training: SGD with Nesterov momentum,
gradient norm clipped, fresh batches from ``tasks.draw_batch`` (for N-parity the bit
probability varies per sequence, as in training), loss = the module's summed
cross-entropy at the last step. Accuracies are measured in time (Appendix L).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch

from rnn_timescales.analysis.in_time_accuracy import (
    InTimeSettings,
    accuracy_in_time,
    relative_accuracy,
    resolve_n,
)
from rnn_timescales.analysis.results import AnalysisResult
from rnn_timescales.errors import ConfigError
from rnn_timescales.heads import ReadoutHeads
from rnn_timescales.module import MemoryTaskModule
from rnn_timescales.tasks import Task, check_ns, draw_batch

Progress = Callable[[int], None] | None


@dataclass(frozen=True)
class TrainingSettings:
    """The training budget and recipe (defaults: the paper's, Sec. 4.3 and Appendix B).

    Args:
        epochs: epochs (for readout-only retraining: the most epochs).
        batches: batches per epoch.
        batch_size: sequences per batch.
        lr: SGD learning rate.
        momentum: Nesterov momentum.
        clip: largest gradient norm (all trained parameters together).
        seed: seed of the fresh head's initial weights and of the training batches.
    """

    epochs: int = 20
    batches: int = 600
    batch_size: int = 256
    lr: float = 0.05
    momentum: float = 0.1
    clip: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "batches", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "clip"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{name} must be a finite number > 0, got {value}")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")

    def as_dict(self) -> dict:
        return asdict(self)


def _seed_for(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


def with_fresh_head(model: MemoryTaskModule, n: int, seed: int) -> MemoryTaskModule:
    """A deep copy of ``model`` whose head bank is one new, randomly initialised head for ``n``."""
    check_ns([n])
    result = copy.deepcopy(model)
    # The bank draws its weights from the global RNG; fork it so the draw is seeded
    # without changing the caller's random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        heads = ReadoutHeads(result.backbone.hidden_size, capacity=1)
    heads.add(n)
    result.heads = heads.to(next(model.parameters()).device)
    return result


def train_on_n(
    model: MemoryTaskModule,
    task: Task,
    n: int,
    training: TrainingSettings,
    parameters: Sequence[torch.nn.Parameter],
    after_epoch: Callable[[int], bool] | None = None,
    progress: Progress = None,
) -> list[float]:
    """Train ``parameters`` of ``model`` (in place) on N; returns the mean loss of each epoch.

    ``after_epoch(epoch)`` returning True stops training early. Parameters not in
    ``parameters`` are not touched by the optimizer.
    """
    parameters = list(parameters)
    model.use_cpu_training_settings()  # as in training: without them long N is several times slower
    optimizer = torch.optim.SGD(parameters, lr=training.lr, momentum=training.momentum, nesterov=True)
    generator = torch.Generator().manual_seed(training.seed)
    device = next(model.parameters()).device
    losses: list[float] = []
    model.train()
    try:
        for epoch in range(training.epochs):
            total = 0.0
            for _ in range(training.batches):
                inputs, labels = draw_batch(task, [n], training.batch_size, generator)
                loss = model._loss((inputs.to(device), labels.to(device), [n]))[0]
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, training.clip)
                optimizer.step()
                total += float(loss.detach())
                if progress:
                    progress(1)
            losses.append(total / training.batches)
            if after_epoch is not None and after_epoch(epoch):
                if progress:  # keep a bar sized for the full budget consistent
                    progress((training.epochs - epoch - 1) * training.batches)
                break
    finally:
        model.eval()
    return losses


def retrain_higher_n(
    model: MemoryTaskModule,
    n_targets: Sequence[int] | None = None,
    n_from: int | None = None,
    training: TrainingSettings | None = None,
    settings: InTimeSettings | None = None,
    progress: Progress = None,
) -> AnalysisResult:
    """Train a fresh head and all network weights on each N' without curriculum (Fig. 7e).

    Args:
        n_targets: the N' (>= 2); default ``n_from + 1 .. n_from + 10``.
        n_from: the N the network solves; default its largest.
        training: budget and recipe (paper: 20 epochs of 600 batches of 256).
        settings: how accuracy is measured (its ``n`` is ignored).
    """
    training = training or TrainingSettings()
    settings = settings or InTimeSettings()
    n_from = resolve_n(model, n_from)
    targets = list(range(n_from + 1, n_from + 11)) if n_targets is None else [int(n) for n in n_targets]
    if not targets:
        raise ConfigError("no N' to retrain on; give at least one")
    check_ns(targets)
    base = accuracy_in_time(model, replace(settings, n=n_from)).mean
    summary, samples = [], []
    for n_target in targets:
        recipe = replace(training, seed=_seed_for(training.seed, n_target))
        retrained = with_fresh_head(model, n_target, recipe.seed)
        losses = train_on_n(retrained, settings.task, n_target, recipe, list(retrained.parameters()),
                            progress=progress)
        measured = accuracy_in_time(retrained, replace(settings, n=n_target))
        rel = relative_accuracy(measured.per_trial, base)
        summary.append({
            "condition": n_target, "n_target": n_target, "acc_mean": measured.mean, "acc_std": measured.std,
            "acc_rel_mean": float(np.mean(rel)), "acc_rel_std": float(np.std(rel)),
            "diverged": measured.n_diverged, "final_loss": losses[-1], "epochs": len(losses),
        })
        # One sample per network and N' (the paper's Appendix M pools networks, not trials).
        samples.append({"condition": n_target, "acc": measured.mean,
                        "acc_rel": relative_accuracy(measured.mean, base)})
    return AnalysisResult(
        name="retrain_higher_n", summary=summary, samples=samples,
        settings={**settings.as_dict(), "n": None, **training.as_dict(), "n_from": n_from, "acc_base": base,
                  "n_targets": targets},
        scalars=("acc_rel_mean", "final_loss"),
    )


def retrain_readout(
    model: MemoryTaskModule,
    n_target: int,
    training: TrainingSettings | None = None,
    threshold: float = 0.98,
    settings: InTimeSettings | None = None,
    progress: Progress = None,
) -> tuple[MemoryTaskModule, dict]:
    """Train only a fresh head on N*, everything else frozen (Appendix H).

    Training stops after ``training.epochs`` epochs or after the first epoch whose
    accuracy in time (checked on streams with seed ``settings.seed + 1``) reaches
    ``threshold``; the reported accuracy is then measured on streams with
    ``settings.seed``. Returns the retrained copy and a row of results.
    """
    training = training or TrainingSettings(epochs=10)
    settings = settings or InTimeSettings()
    if not 0 < threshold <= 1:
        raise ConfigError(f"threshold must be in (0, 1], got {threshold}")
    retrained = with_fresh_head(model, n_target, training.seed)
    retrained.backbone.requires_grad_(False)
    check = replace(settings, n=n_target, seed=settings.seed + 1)
    checks: list[float] = []

    def reached(epoch: int) -> bool:
        checks.append(accuracy_in_time(retrained, check).mean)
        return checks[-1] >= threshold

    losses = train_on_n(retrained, settings.task, n_target, training, list(retrained.heads.parameters()),
                        after_epoch=reached, progress=progress)
    measured = accuracy_in_time(retrained, replace(settings, n=n_target))
    return retrained, {
        "accuracy": measured.mean, "accuracy_std": measured.std, "diverged": measured.n_diverged,
        "epochs": len(losses), "reached_threshold": bool(checks and checks[-1] >= threshold),
        "final_loss": losses[-1],
    }


def readout_matrix(
    models: Sequence[tuple[Path, MemoryTaskModule]],
    n_extra: int = 2,
    n_min: int = 2,
    training: TrainingSettings | None = None,
    threshold: float = 0.98,
    settings: InTimeSettings | None = None,
    progress: Progress = None,
) -> AnalysisResult:
    """Accuracy of readout-only retraining for every (N trained, N* in n_min..N + n_extra) (Fig. S17).

    N of a network is the largest N it has a head for. One summary row per pair,
    ``condition = "<N>-><N*>"``.
    """
    training = training or TrainingSettings(epochs=10)
    settings = settings or InTimeSettings()
    if n_extra < 0:
        raise ConfigError(f"n_extra must be >= 0, got {n_extra}")
    if n_min < 2:
        raise ConfigError(f"n_min must be >= 2 (N=1 needs no memory), got {n_min}")
    summary, samples = [], []
    for path, model in models:
        ns = model.heads.active_ns()
        if not ns:
            raise ConfigError(f"{Path(path).name} has no readout head, so its N is unknown")
        n_trained = max(ns)
        for n_target in range(n_min, n_trained + n_extra + 1):
            recipe = replace(training, seed=_seed_for(training.seed, n_trained, n_target))
            _, row = retrain_readout(model, n_target, recipe, threshold, settings, progress)
            condition = f"{n_trained}->{n_target}"
            summary.append({"condition": condition, "checkpoint": Path(path).name, "n_trained": n_trained,
                            "n_target": n_target, **row})
            samples.append({"condition": condition, "acc": row["accuracy"]})
    return AnalysisResult(
        name="readout_matrix", summary=summary, samples=samples,
        settings={**settings.as_dict(), "n": None, **training.as_dict(), "threshold": threshold,
                  "n_extra": n_extra, "n_min": n_min, "checkpoints": [Path(p).name for p, _ in models]},
        scalars=(),
    )
