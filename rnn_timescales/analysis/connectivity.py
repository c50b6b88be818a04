"""Incoming recurrent weights per neuron, and how they change with N (paper Fig. 6a, S19c,d).

The mean incoming weight of neuron i is the row mean of the effective ``W_R`` over
its ``H - 1`` possible inputs (the diagonal does not exist in the model). Below zero
the neuron receives net inhibition; single-head networks drift there as N grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnn_timescales.analysis.interventions import leaky_backbone
from rnn_timescales.analysis.results import AnalysisResult
from rnn_timescales.module import MemoryTaskModule


def incoming_weights(model: MemoryTaskModule) -> dict[str, np.ndarray]:
    """Per neuron: ``mean_j W_ij`` (j != i), and the summed positive and negative inputs."""
    backbone = leaky_backbone(model)
    w = backbone.effective_w_rec().detach().double().cpu().numpy()
    others = max(w.shape[0] - 1, 1)
    return {
        "mean": w.sum(axis=1) / others,
        "positive_sum": np.clip(w, 0, None).sum(axis=1),
        "negative_sum": np.clip(w, None, 0).sum(axis=1),
        "tau": backbone.effective_tau().detach().double().cpu().numpy(),
    }


def connectivity_across_checkpoints(models: Sequence[tuple[Path, MemoryTaskModule]]) -> AnalysisResult:
    """Mean incoming weight per neuron (mean and std over neurons) against the largest N.

    One summary row per checkpoint (condition = its largest N); one sample row per neuron.
    """
    summary, samples = [], []
    for path, model in models:
        ns = model.heads.active_ns()
        n_max = max(ns) if ns else None
        stats = incoming_weights(model)
        summary.append({
            "condition": n_max, "checkpoint": Path(path).name, "n_max": n_max,
            "incoming_mean": float(stats["mean"].mean()), "incoming_std": float(stats["mean"].std()),
            "positive_sum_mean": float(stats["positive_sum"].mean()),
            "negative_sum_mean": float(stats["negative_sum"].mean()),
            "tau_mean": float(stats["tau"].mean()),
        })
        samples += [{"condition": n_max, "neuron": i, "incoming_mean": float(stats["mean"][i]),
                     "tau": float(stats["tau"][i])} for i in range(len(stats["mean"]))]
    return AnalysisResult(name="connectivity", summary=summary, samples=samples,
                          settings={"checkpoints": [Path(p).name for p, _ in models]},
                          scalars=("incoming_mean", "incoming_std"))
