"""tau_net of every neuron and tau_pop of the population, for any trained network.

tau_net is the timescale a neuron shows inside the network: the decay of the
autocorrelation (AC) of its activity under uncorrelated input, fitted by a single
or a double exponential (AIC picks; tau_net = the slower one). tau_pop is the same
for the summed activity of all neurons. Compare tau_net with the neuron's own
trained tau: tau_net >> tau means the timescale is made by the connectivity.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from torch import nn

from rnn_timescales.analysis.autocorrelation import autocorrelation, zero_variance_units
from rnn_timescales.analysis.exponential_fits import TimescaleFits, fit_timescales, summarize_fits
from rnn_timescales.analysis.simulate import simulate_activity
from rnn_timescales.errors import ConfigError


@dataclass
class TimescaleSettings:
    """The measurement protocol; defaults are the paper's (Sec. 2).

    Args:
        trials: independent input realisations, averaged.
        steps: recorded steps per trial.
        burn_in: steps dropped at the start of each trial.
        p: input bit probability; ``None`` draws one per trial from U(0, 1).
        max_lag: lags of the AC kept.
        fit_lags: lags 0..fit_lags used in the exponential fits.
        tau_max: upper bound of fitted timescales.
        min_weight: smallest component weight for a double fit to count (0 = plain AIC,
            the paper's rule; see ``fit_timescales``).
        seed: seed of the input and the initial state.
    """

    trials: int = 10
    steps: int = 100_000
    burn_in: int = 500
    p: float | None = None
    max_lag: int = 200
    fit_lags: int = 30
    tau_max: float = 100.0
    min_weight: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        # Checked before minutes of simulation, not after.
        checks = [
            ("trials", self.trials, self.trials >= 1, ">= 1"),
            ("steps", self.steps, self.steps >= 2, ">= 2"),
            ("burn_in", self.burn_in, self.burn_in >= 0, ">= 0"),
            ("max_lag", self.max_lag, 0 <= self.max_lag < self.steps, f"in 0..steps-1 = 0..{self.steps - 1}"),
            ("fit_lags", self.fit_lags, 4 <= self.fit_lags <= self.max_lag, f"in 4..max_lag = 4..{self.max_lag}"),
            ("tau_max", self.tau_max, self.tau_max > 0, "> 0"),
            ("min_weight", self.min_weight, 0 <= self.min_weight <= 0.5, "in [0, 0.5]"),
            ("bit probability p", self.p, self.p is None or 0 <= self.p <= 1, "in [0, 1] or null"),
        ]
        for name, value, ok, allowed in checks:
            if not ok:
                raise ConfigError(f"{name} must be {allowed}, got {value}")


@dataclass
class TimescaleReport:
    """Everything measured; arrays have one row per neuron."""

    settings: TimescaleSettings
    tau: np.ndarray  # trained tau, max(tau, 1); NaN for backbones without tau
    silent: np.ndarray  # constant in some trial: excluded
    ac: np.ndarray  # [neurons, max_lag + 1], trial-averaged
    fits: TimescaleFits
    population_ac: np.ndarray  # [max_lag + 1]
    population_fits: TimescaleFits
    trial_p: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def tau_pop(self) -> float:
        return float(self.population_fits.tau_net[0])

    def summary(self) -> dict:
        """Counts and population statistics over the neurons whose fit is usable."""
        fits = summarize_fits(self.fits)
        ok = self.fits.ok
        tau_ok = self.tau[ok]
        at_bound = ok & (self.fits.tau_net >= 0.999 * self.settings.tau_max)
        return {
            **fits,
            "n_silent": int(self.silent.sum()),
            "n_failed_fit": int((~ok & ~self.silent).sum()),
            "n_tau_net_at_upper_bound": int(at_bound.sum()),
            "tau_mean": float(np.mean(tau_ok)) if ok.any() else float("nan"),
            "tau_std": float(np.std(tau_ok)) if ok.any() else float("nan"),
            "tau_pop": self.tau_pop,
            "tau_pop_model": int(self.population_fits.model_aic[0]),
            "tau_pop_r2": float(self.population_fits.r2[0]),
            "seconds": self.seconds,
            "settings": asdict(self.settings),
        }


def network_timescales(
    backbone: nn.Module,
    settings: TimescaleSettings | None = None,
    progress: Callable[[int], None] | None = None,
) -> TimescaleReport:
    """Run the whole protocol on ``backbone``: simulate, AC per neuron and population, fits."""
    settings = settings or TimescaleSettings()
    seconds = {}
    start = time.perf_counter()
    activity, trial_p = simulate_activity(
        backbone, settings.trials, settings.steps, settings.burn_in, settings.p, settings.seed, progress=progress
    )
    seconds["simulation"] = time.perf_counter() - start

    start = time.perf_counter()
    silent = zero_variance_units(activity)
    ac = autocorrelation(activity, settings.max_lag)
    population = activity.sum(axis=2, dtype=np.float64)[:, :, None]  # [trials, steps, 1]
    population_ac = autocorrelation(population, settings.max_lag)
    seconds["autocorrelation"] = time.perf_counter() - start
    del activity

    start = time.perf_counter()
    fits = fit_timescales(ac, settings.fit_lags, settings.tau_max, settings.min_weight)
    population_fits = fit_timescales(population_ac, settings.fit_lags, settings.tau_max, settings.min_weight)
    seconds["fits"] = time.perf_counter() - start

    tau = backbone.effective_tau().detach().cpu().double().numpy() if hasattr(backbone, "effective_tau") else (
        np.full(ac.shape[0], np.nan)
    )
    return TimescaleReport(settings, tau, silent, ac, fits, population_ac[0], population_fits, trial_p, seconds)


def save_timescale_report(report: TimescaleReport, folder: str | Path) -> dict[str, Path]:
    """Write ``timescales.npz`` (all arrays, ACs included), ``timescales.csv`` (one row
    per neuron) and ``timescales_summary.json`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fits = report.fits
    paths = {
        "npz": folder / "timescales.npz",
        "csv": folder / "timescales.csv",
        "json": folder / "timescales_summary.json",
    }
    np.savez_compressed(
        paths["npz"],
        tau=report.tau, silent=report.silent, ac=report.ac, population_ac=report.population_ac,
        trial_p=report.trial_p, **{f"fit_{k}": v for k, v in asdict(fits).items()},
        **{f"population_fit_{k}": v for k, v in asdict(report.population_fits).items()},
    )
    with paths["csv"].open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([
            "neuron", "tau", "tau_net", "ok", "silent", "model_aic", "model_bic", "r2",
            "single_a", "single_tau", "double_a", "double_c", "double_tau1", "double_tau2",
        ])
        for i in range(len(report.tau)):
            writer.writerow([
                i, report.tau[i], fits.tau_net[i], bool(fits.ok[i]), bool(report.silent[i]),
                fits.model_aic[i], fits.model_bic[i], fits.r2[i], *fits.single_params[i], *fits.double_params[i],
            ])
    paths["json"].write_text(json.dumps(report.summary(), indent=2))
    return paths
