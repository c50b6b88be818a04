"""Figures of the timescale analysis (matplotlib, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files and TensorBoard only; never open a window

import matplotlib.pyplot as plt
import numpy as np

from rnn_timescales.analysis.exponential_fits import double_exponential, exponential
from rnn_timescales.analysis.timescales import TimescaleReport


def _example(report: TimescaleReport, model: int) -> int | None:
    """The usable neuron with the best R^2 among those whose AIC picked ``model``."""
    candidates = np.flatnonzero(report.fits.ok & (report.fits.model_aic == model))
    if len(candidates) == 0:
        return None
    return int(candidates[np.nanargmax(report.fits.r2[candidates])])


def autocorrelation_figure(report: TimescaleReport) -> plt.Figure:
    """AC on log-linear axes with fits: an example single- and double-timescale neuron, the population."""
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    lags = np.arange(report.settings.fit_lags + 1)
    fine = np.linspace(0, report.settings.fit_lags, 200)
    examples = [("single exponential", _example(report, 1)), ("double exponential", _example(report, 2))]
    for ax, (title, neuron) in zip(axes[:2], examples):
        ax.set_title(f"neuron picked by AIC: {title}")
        if neuron is None:
            ax.text(0.5, 0.5, "no such neuron", ha="center", transform=ax.transAxes)
            continue
        ac = report.ac[neuron, : len(lags)] / report.ac[neuron, 0]
        ax.semilogy(lags, np.clip(ac, 1e-4, None), "o", ms=3, label=f"AC of neuron {neuron}")
        ax.semilogy(fine, exponential(fine, *report.fits.single_params[neuron]), label="single fit")
        ax.semilogy(fine, double_exponential(fine, *report.fits.double_params[neuron]), "--", label="double fit")
        ax.set_xlabel("lag (steps)")
        ax.legend(title=f"tau={report.tau[neuron]:.2f}, tau_net={report.fits.tau_net[neuron]:.2f}", fontsize=8)
    ax = axes[2]
    pop = report.population_ac[: len(lags)]
    ax.semilogy(lags, np.clip(pop, 1e-4, None), "o", ms=3, label="population AC")
    params = report.population_fits
    ax.semilogy(fine, exponential(fine, *params.single_params[0]), label="single fit")
    ax.semilogy(fine, double_exponential(fine, *params.double_params[0]), "--", label="double fit")
    ax.set_title(f"population: tau_pop = {report.tau_pop:.2f}")
    ax.set_xlabel("lag (steps)")
    ax.legend(fontsize=8)
    axes[0].set_ylabel("autocorrelation")
    axes[0].set_ylim(1e-3, 1.2)
    figure.tight_layout()
    return figure


def tau_scatter_figure(report: TimescaleReport) -> plt.Figure:
    """Trained tau against tau_net, one dot per usable neuron."""
    figure, ax = plt.subplots(figsize=(4.5, 4.2))
    ok = report.fits.ok
    ax.scatter(report.tau[ok], report.fits.tau_net[ok], s=8, alpha=0.6)
    top = np.nanmax(np.concatenate([report.tau[ok], report.fits.tau_net[ok], [2.0]]))
    ax.plot([1, top], [1, top], "k:", lw=1, label="tau_net = tau")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("trained tau")
    ax.set_ylabel("tau_net")
    ax.set_title(f"{int(ok.sum())} neurons ({int((~ok).sum())} excluded)")
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


def timescale_figures(report: TimescaleReport) -> dict[str, plt.Figure]:
    return {"autocorrelation": autocorrelation_figure(report), "tau_vs_tau_net": tau_scatter_figure(report)}
