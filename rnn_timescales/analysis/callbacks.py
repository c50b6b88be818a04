"""Post-fit callbacks: run the analyses on the network a fit produced."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_info

from rnn_timescales.analysis.runner import (
    curriculum_checkpoints,
    run_timescale_analysis,
    timescales_across_checkpoints,
)
from rnn_timescales.analysis.timescales import TimescaleSettings


class TimescaleAnalysis(Callback):
    """Measure tau_net and tau_pop of the final network when ``fit`` ends.

    Results go to ``<run folder>/timescales/`` (npz, csv, json, png) and to TensorBoard.

    Args:
        trials: input realisations (paper: 10).
        steps: recorded steps per trial (paper: 100,000).
        burn_in: dropped steps per trial.
        bit_probability: input bit probability p; ``None`` draws one per trial from U(0, 1).
        max_lag: AC lags kept.
        fit_lags: lags used by the fits.
        min_weight: smallest weight of either component for a double fit to count
            (0 = the paper's plain AIC rule).
        seed: seed of the input.
        per_checkpoint: also analyse every curriculum checkpoint (``N<lo>-N<hi>.ckpt``) of the
            run, giving tau, tau_net and tau_pop against N as a table and a plot.
    """

    def __init__(
        self,
        trials: int = 10,
        steps: int = 100_000,
        burn_in: int = 500,
        bit_probability: float | None = None,
        max_lag: int = 200,
        fit_lags: int = 30,
        min_weight: float = 0.0,
        seed: int = 0,
        per_checkpoint: bool = False,
    ) -> None:
        self.settings = TimescaleSettings(
            trials=trials, steps=steps, burn_in=burn_in, p=bit_probability, max_lag=max_lag,
            fit_lags=fit_lags, min_weight=min_weight, seed=seed,
        )
        self.per_checkpoint = per_checkpoint

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        run_folder = Path(trainer.log_dir or trainer.default_root_dir)
        writer = trainer.logger.experiment if isinstance(trainer.logger, TensorBoardLogger) else None
        was_training = pl_module.training
        pl_module.eval()
        summary = run_timescale_analysis(pl_module, run_folder / "timescales", self.settings, writer,
                                         step=trainer.global_step)
        rank_zero_info(
            f"[timescales] tau mean {summary['tau_mean']:.3f}, tau_net median {summary['tau_net_median']:.3f}, "
            f"tau_pop {summary['tau_pop']:.3f} ({summary['n_excluded']} neurons excluded) -> {run_folder / 'timescales'}"
        )
        if self.per_checkpoint:
            from rnn_timescales.checkpoints import load_model

            paths = curriculum_checkpoints(run_folder / "checkpoints")
            models = [(path, load_model(path)) for path in paths]
            timescales_across_checkpoints(models, run_folder / "timescales" / "per_checkpoint", self.settings)
        pl_module.train(was_training)
