"""Post-fit callback: ablation and perturbation (and optionally dimensionality) of the final network."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from tqdm.auto import tqdm

from rnn_timescales.analysis.dimensionality import dimensionality_across_checkpoints
from rnn_timescales.analysis.in_time_accuracy import InTimeSettings
from rnn_timescales.analysis.interventions import leaky_backbone
from rnn_timescales.analysis.robustness import ablation_analysis, log_grid, perturbation_analysis
from rnn_timescales.analysis.robustness_report import save_result
from rnn_timescales.curriculum import Curriculum
from rnn_timescales.errors import ConfigError
from rnn_timescales.tasks import TASKS


class RobustnessAnalysis(Callback):
    """Ablate and perturb the final network when ``fit`` ends (paper Sec. 4.3, Fig. 7a-d).

    Results go to ``<run folder>/robustness/`` (csv, json, png) and to TensorBoard under
    ``robustness/``. Runs on rank zero only; the trained module itself is not changed
    (every intervention acts on a copy).

    Args:
        count: neurons removed per group, longest and shortest tau (paper: 20).
        single_neuron: also ablate every neuron on its own.
        draws: random directions per perturbation strength (paper: 10).
        w_rec_epsilon_min: smallest epsilon for W_R (paper: 0.01).
        w_rec_epsilon_max: largest epsilon for W_R (paper: 10).
        tau_epsilon_min: smallest epsilon for tau (paper: 0.001).
        tau_epsilon_max: largest epsilon for tau (paper: 2.2).
        per_decade: grid points per decade (paper: 3).
        dimensionality: also measure the PCA dimension of the final network's activity.
        dimensionality_steps: recorded steps per trial for the PCA.
        task: ``parity`` or ``dms``; default the datamodule's task (else parity).
        n: the N whose head is read. Default: the largest N the run's ``Curriculum``
            solved, if the final network still has its head (multi-head runs); else
            the largest N with a head (a run stopped by ``max_epochs`` may have a head
            for an N it never solved, and a single-head run has moved its head on).
        trials: input streams per measurement (paper: 10).
        steps: scored steps per stream (paper: 1000).
        burn_in: unscored steps first (paper: 100).
        seed: seed of inputs and random directions.
    """

    def __init__(
        self,
        count: int = 20,
        single_neuron: bool = False,
        draws: int = 10,
        w_rec_epsilon_min: float = 0.01,
        w_rec_epsilon_max: float = 10.0,
        tau_epsilon_min: float = 0.001,
        tau_epsilon_max: float = 2.2,
        per_decade: int = 3,
        dimensionality: bool = False,
        dimensionality_steps: int = 10_000,
        task: str | None = None,
        n: int | None = None,
        trials: int = 10,
        steps: int = 1000,
        burn_in: int = 100,
        seed: int = 0,
    ) -> None:
        if count < 0:
            raise ConfigError(f"count must be >= 0, got {count}")
        if draws < 1:
            raise ConfigError(f"draws must be >= 1, got {draws}")
        if dimensionality_steps < 2:
            raise ConfigError(f"dimensionality_steps must be >= 2, got {dimensionality_steps}")
        if task is not None and task not in TASKS:
            raise ConfigError(f"unknown task {task!r}; allowed: {', '.join(TASKS)}")
        # Validated now, not after hours of training.
        self.grids = {"w_rec": log_grid(w_rec_epsilon_min, w_rec_epsilon_max, per_decade),
                      "tau": log_grid(tau_epsilon_min, tau_epsilon_max, per_decade)}
        InTimeSettings(n=n, trials=trials, steps=steps, burn_in=burn_in, seed=seed)
        self.count = count
        self.single_neuron = single_neuron
        self.draws = draws
        self.dimensionality = dimensionality
        self.dimensionality_steps = dimensionality_steps
        self.task = task
        self.n = n
        self.trials, self.steps, self.burn_in, self.seed = trials, steps, burn_in, seed

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Checks that need the network, before training rather than after it.
        hidden = leaky_backbone(pl_module).hidden_size
        if self.count > hidden:
            raise ConfigError(
                f"RobustnessAnalysis count must be in 0..{hidden} (the network's neurons), got {self.count}"
            )

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        if not pl_module.heads.active_ns():
            rank_zero_info("[robustness] the network has no readout head; nothing to measure")
            return
        task = self.task or getattr(trainer.datamodule, "task", None) or "parity"
        n = self.n
        if n is not None and n not in pl_module.heads.active_ns():
            # After a long fit, measure what exists rather than lose the analysis.
            rank_zero_warn(f"[robustness] the final network has no head for n={n} "
                           f"(heads: N={pl_module.heads.active_ns()}); using the default N instead")
            n = None
        settings = InTimeSettings(task=task, n=n or _solved_n(trainer, pl_module), trials=self.trials,
                                  steps=self.steps, burn_in=self.burn_in, seed=self.seed)
        folder = Path(trainer.log_dir or trainer.default_root_dir) / "robustness"
        writer = trainer.logger.experiment if isinstance(trainer.logger, TensorBoardLogger) else None
        step = trainer.global_step
        was_training = pl_module.training
        pl_module.eval()
        try:
            total = 3 + (pl_module.backbone.hidden_size if self.single_neuron else 0)
            total += sum(len(grid) for grid in self.grids.values()) * self.draws
            with tqdm(total=total, desc="robustness", unit="net", leave=False) as bar:
                ablation = ablation_analysis(pl_module, self.count, self.single_neuron, settings, bar.update)
                save_result(ablation, folder, writer, step, prefix="robustness/")
                lines = [f"acc_base {ablation.settings['acc_base']:.4f} on N={ablation.settings['n']}"]
                for row in ablation.summary[1:3]:
                    lines.append(f"ablating {self.count} {row['condition']}-tau neurons: acc_rel "
                                 f"{row['acc_rel_mean']:.3f}")
                for target, grid in self.grids.items():
                    result = perturbation_analysis(pl_module, target, grid, self.draws, settings, self.seed,
                                                   bar.update)
                    save_result(result, folder, writer, step, prefix="robustness/")
                    last = result.summary[-1]
                    lines.append(f"perturbing {target} at epsilon={last['epsilon']:.3g}: acc_rel "
                                 f"{last['acc_rel_mean']:.3f}, {last['diverged']} diverged trials")
            if self.dimensionality:
                result = dimensionality_across_checkpoints(
                    [(Path("final"), pl_module)], trials=self.trials, steps=self.dimensionality_steps,
                    seed=self.seed)
                save_result(result, folder, writer, step, prefix="robustness/")
                lines.append(f"PCA dimension (90% variance): {result.summary[0]['dimension']}")
        finally:
            pl_module.train(was_training)
        rank_zero_info("[robustness] " + "; ".join(lines) + f" -> {folder}")


def _solved_n(trainer: L.Trainer, pl_module: L.LightningModule) -> int | None:
    """The largest N the run's curriculum solved, if the network still has a head for it."""
    for callback in trainer.callbacks:
        if isinstance(callback, Curriculum) and callback.history:
            solved = max(callback.history[-1]["ns"])
            if solved in pl_module.heads.active_ns():
                return int(solved)
    return None
