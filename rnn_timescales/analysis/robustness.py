"""Robustness sweeps (paper Sec. 4.3, Fig. 7a-d; Appendix J): interventions -> tables.

Every sweep measures the unchanged network once (``acc_base``, accuracy in time on its
largest N unless told otherwise) and then each intervened copy with the same input
streams, and reports ``acc_rel = (acc - 0.5) / (acc_base - 0.5)``. ``acc_base`` is the
mean over trials of the unchanged network, one number per network, so a trial's
acc_rel does not depend on how well that one trial of the base network did.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import torch

from rnn_timescales.analysis.in_time_accuracy import (
    InTimeAccuracy,
    InTimeSettings,
    accuracy_in_time,
    relative_accuracy,
)
from rnn_timescales.analysis.interventions import (
    ablate,
    leaky_backbone,
    neurons_by_tau,
    perturb_tau,
    perturb_w_rec,
    scale_inhibition,
)
from rnn_timescales.analysis.results import AnalysisResult
from rnn_timescales.errors import ConfigError
from rnn_timescales.module import MemoryTaskModule

Progress = Callable[[int], None] | None
PERTURBATION_TARGETS = ("w_rec", "tau")
# Paper Fig. 7c,d and Tables 1-2: three points per decade.
W_REC_EPSILONS = (0.01, 10.0)
TAU_EPSILONS = (0.001, 2.2)


def log_grid(start: float, stop: float, per_decade: int = 3) -> list[float]:
    """``start * 10**(k / per_decade)`` for k = 0, 1, ... up to ``stop`` (inclusive, to 1e-9).

    With ``(0.01, 10, 3)`` this is the paper's weight grid 0.01, 0.022, 0.046, ..., 10;
    with ``(0.001, 2.2, 3)`` its tau grid 0.001, ..., 2.15.
    """
    if not (math.isfinite(start) and start > 0):
        raise ConfigError(f"a log grid must start above 0, got start={start}")
    if not (math.isfinite(stop) and stop >= start):
        raise ConfigError(f"a log grid must stop at or above its start {start}, got stop={stop}")
    if per_decade < 1:
        raise ConfigError(f"per_decade must be >= 1, got {per_decade}")
    count = int(math.floor(per_decade * math.log10(stop / start) + 1e-9)) + 1
    if count > 1000:  # each point costs draws x trials simulations
        raise ConfigError(f"a log grid of {count} points from {start} to {stop} is too long; at most 1000 allowed")
    return [float(start * 10 ** (k / per_decade)) for k in range(count)]


def linear_grid(start: float, stop: float, count: int) -> list[float]:
    """``count`` evenly spaced values from ``start`` to ``stop`` (``numpy.linspace``)."""
    if count < 1:
        raise ConfigError(f"a grid needs count >= 1 points, got {count}")
    if not (math.isfinite(start) and math.isfinite(stop) and stop >= start):
        raise ConfigError(f"a grid needs finite start <= stop, got start={start}, stop={stop}")
    # Rounded so that e.g. 0.06 prints as 0.06, not 0.060000000000000005.
    return [round(float(v), 12) for v in np.linspace(start, stop, count)]


def _sample_rows(condition, measured: InTimeAccuracy, base: float, extra: dict | None = None) -> list[dict]:
    rel = relative_accuracy(measured.per_trial, base)
    return [
        {"condition": condition, **(extra or {}), "trial": k, "acc": float(measured.per_trial[k]),
         "acc_rel": float(rel[k]), "diverged": bool(measured.diverged[k])}
        for k in range(len(measured.per_trial))
    ]


def _summary_row(condition, measured: InTimeAccuracy, base: float, extra: dict | None = None) -> dict:
    rel = relative_accuracy(measured.per_trial, base)
    return {
        "condition": condition, **(extra or {}),
        "acc_mean": measured.mean, "acc_std": measured.std,
        "acc_rel_mean": float(np.mean(rel)), "acc_rel_std": float(np.std(rel)),
        "diverged": measured.n_diverged, "trials": len(measured.per_trial),
    }


def ablation_analysis(
    model: MemoryTaskModule,
    count: int = 20,
    single_neuron: bool = False,
    settings: InTimeSettings | None = None,
    progress: Progress = None,
) -> AnalysisResult:
    """Accuracy after removing the ``count`` longest- and shortest-tau neurons (Fig. 7a,b; App. L).

    Conditions: ``none`` (the base), ``longest``, ``shortest``; with ``single_neuron``
    also ``neuron_<i>`` for every neuron, in order of increasing tau. See
    :func:`~rnn_timescales.analysis.interventions.ablate` for what removing means.
    """
    settings = settings or InTimeSettings()
    backbone = leaky_backbone(model)
    if count < 0:
        raise ConfigError(f"count must be >= 0, got {count}")
    tau = backbone.effective_tau().detach().cpu().numpy().astype(float)
    base_measure = accuracy_in_time(model, settings)
    base = base_measure.mean
    groups: list[tuple[str, list[int], dict]] = [("none", [], {})]
    for which in ("longest", "shortest"):
        groups.append((which, neurons_by_tau(model, count, which), {}))
    if single_neuron:
        for rank, neuron in enumerate(np.argsort(tau, kind="stable")):
            groups.append((f"neuron_{int(neuron)}", [int(neuron)],
                           {"neuron": int(neuron), "tau_rank": rank}))
    summary, samples = [], []
    for condition, neurons, extra in groups:
        if condition == "none":
            measured = base_measure
        else:
            measured = accuracy_in_time(ablate(model, neurons), settings)
        extra = {**extra, "removed": len(neurons),
                 "tau_mean_removed": float(tau[neurons].mean()) if neurons else float("nan")}
        summary.append(_summary_row(condition, measured, base, extra))
        samples += _sample_rows(condition, measured, base)
        if progress:
            progress(1)
    return AnalysisResult(
        name="ablation", summary=summary, samples=samples,
        settings={**settings.as_dict(), "n": base_measure.n, "count": count, "single_neuron": single_neuron,
                  "acc_base": base, "neurons_longest": groups[1][1], "neurons_shortest": groups[2][1]},
        scalars=("acc_rel_mean", "acc_mean"),
    )


def _draw_generator(seed: int, draw: int) -> torch.Generator:
    # One direction xi per draw, the same at every epsilon: the curve of one draw over
    # epsilon then changes only in strength (common random numbers across the grid).
    state = np.random.SeedSequence([seed, draw]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state >> np.uint64(1)))


def _target_values(backbone, target: str) -> torch.Tensor:
    """The effective W_R or tau (what the dynamics use), float64."""
    values = backbone.effective_w_rec() if target == "w_rec" else backbone.effective_tau()
    return values.detach().double()


def perturbation_analysis(
    model: MemoryTaskModule,
    target: Literal["w_rec", "tau"],
    epsilons: Sequence[float] | None = None,
    draws: int = 10,
    settings: InTimeSettings | None = None,
    seed: int = 0,
    progress: Progress = None,
) -> AnalysisResult:
    """Accuracy after random perturbations of ``W_R`` or ``tau`` of relative size epsilon (Eq. 4; Fig. 7c,d).

    For each epsilon and each of ``draws`` random directions xi: the perturbed copy's
    accuracy in time (mean over trials; a diverged trial scores 0.5) and its acc_rel.
    Summary per epsilon: mean and std over draws, diverged trials in total, and the
    measured ``||perturbation|| / ||original||`` (equals epsilon by construction).

    Args:
        target: ``"w_rec"`` or ``"tau"``.
        epsilons: strengths (>= 0); default the paper's grid, 0.01..10 for W_R and
            0.001..2.2 for tau, three per decade.
        draws: random directions per epsilon (paper: 10).
        seed: seed of the directions (the input streams use ``settings.seed``).
    """
    if target not in PERTURBATION_TARGETS:
        raise ConfigError(f"unknown perturbation target {target!r}; allowed: {', '.join(PERTURBATION_TARGETS)}")
    settings = settings or InTimeSettings()
    backbone = leaky_backbone(model)
    if draws < 1:
        raise ConfigError(f"draws must be >= 1, got {draws}")
    if epsilons is None:
        epsilons = log_grid(*(W_REC_EPSILONS if target == "w_rec" else TAU_EPSILONS))
    epsilons = [float(e) for e in epsilons]
    if not epsilons:
        raise ConfigError("the epsilon grid is empty; give at least one epsilon")
    bad = [e for e in epsilons if not (math.isfinite(e) and e >= 0)]
    if bad:
        raise ConfigError(f"epsilon must be a finite number >= 0, got {bad[0]}")
    perturb = perturb_w_rec if target == "w_rec" else perturb_tau
    original = _target_values(backbone, target)
    base_measure = accuracy_in_time(model, settings)
    base = base_measure.mean
    summary, samples = [], []
    for epsilon in epsilons:
        accs, rels, diverged, norms = [], [], 0, []
        for draw in range(draws):
            changed = perturb(model, epsilon, _draw_generator(seed, draw))
            new = _target_values(leaky_backbone(changed), target)
            norms.append(float(torch.linalg.vector_norm(new - original) / torch.linalg.vector_norm(original)))
            measured = accuracy_in_time(changed, settings)
            accs.append(measured.mean)
            rels.append(relative_accuracy(measured.mean, base))
            diverged += measured.n_diverged
            samples.append({"condition": epsilon, "draw": draw, "acc": measured.mean, "acc_rel": rels[-1],
                            "diverged_trials": measured.n_diverged})
            if progress:
                progress(1)
        summary.append({
            "condition": epsilon, "epsilon": epsilon,
            "acc_mean": float(np.mean(accs)), "acc_std": float(np.std(accs)),
            "acc_rel_mean": float(np.mean(rels)), "acc_rel_std": float(np.std(rels)),
            "diverged": diverged, "trials": draws * settings.trials, "draws": draws,
            "relative_norm": float(np.mean(norms)),
        })
    return AnalysisResult(
        name=f"perturbation_{target}", summary=summary, samples=samples,
        settings={**settings.as_dict(), "n": base_measure.n, "target": target, "draws": draws,
                  "seed_directions": seed, "acc_base": base, "epsilons": epsilons},
        scalars=("acc_rel_mean", "diverged"),
    )


def inhibition_analysis(
    model: MemoryTaskModule,
    scales: Sequence[float] | None = None,
    settings: InTimeSettings | None = None,
    progress: Progress = None,
) -> AnalysisResult:
    """Activity and accuracy when every negative ``W_ij`` becomes ``(1 + c) W_ij`` (Eq. 7; App. J, Fig. S19).

    Per c: mean incoming weight (over neurons of the row mean of ``W_R``), mean activity
    and largest |activity| (over non-diverged trials: does the activity explode?),
    diverged trials, accuracy and acc_rel.

    Args:
        scales: the values of c (>= -1); default 11 points from -0.1 to 0.1.
    """
    settings = settings or InTimeSettings()
    leaky_backbone(model)
    scales = linear_grid(-0.1, 0.1, 11) if scales is None else [float(c) for c in scales]
    if not scales:
        raise ConfigError("the grid of inhibition scales c is empty; give at least one c")
    base_measure = accuracy_in_time(model, settings)
    base = base_measure.mean
    summary, samples = [], []
    for c in scales:
        changed = scale_inhibition(model, c)
        w = leaky_backbone(changed).effective_w_rec().detach().double()
        hidden = w.shape[0]
        incoming = (w.sum(1) / max(hidden - 1, 1)).cpu().numpy()
        measured = accuracy_in_time(changed, settings)
        ok = ~measured.diverged
        extra = {
            "c": c,
            "incoming_mean": float(incoming.mean()),
            "activity_mean": float(measured.activity_mean[ok].mean()) if ok.any() else float("nan"),
            "activity_abs_max": float(measured.activity_abs_max[ok].max()) if ok.any() else float("nan"),
        }
        summary.append(_summary_row(c, measured, base, extra))
        samples += [{**row, "activity_mean": float(measured.activity_mean[row["trial"]])}
                    for row in _sample_rows(c, measured, base)]
        if progress:
            progress(1)
    return AnalysisResult(
        name="inhibition", summary=summary, samples=samples,
        settings={**settings.as_dict(), "n": base_measure.n, "scales": scales, "acc_base": base},
        scalars=("acc_rel_mean", "activity_mean", "diverged"),
    )
