"""Dimensionality of population activity (paper Appendix K, Fig. 6b, S20).

Dimension = the smallest number of principal components whose variances sum to at
least ``threshold`` (paper: 90%) of the total variance::

    d = min { k : (lambda_1 + ... + lambda_k) / (lambda_1 + ... + lambda_H) >= threshold }

with ``lambda_1 >= lambda_2 >= ...`` the eigenvalues of the neurons' covariance matrix
over all recorded steps of all trials (one mean per neuron, over everything).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from torch import nn

from rnn_timescales.analysis.results import AnalysisResult
from rnn_timescales.analysis.simulate import simulate_activity
from rnn_timescales.errors import ConfigError
from rnn_timescales.module import MemoryTaskModule


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise ConfigError(f"variance threshold must be in (0, 1], got {threshold}")


def explained_variance_ratio(activity: np.ndarray) -> np.ndarray:
    """Fraction of the total variance along each principal component, largest first.

    Args:
        activity: ``[samples, neurons]`` or ``[trials, steps, neurons]`` (finite).

    Returns all zeros for activity without any variance.
    """
    x = np.asarray(activity)
    if x.ndim == 3:
        x = x.reshape(-1, x.shape[-1])
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(
            f"activity must be [samples >= 2, neurons] or [trials, steps, neurons], got {np.shape(activity)}"
        )
    if not np.isfinite(x).all():
        raise ValueError("activity contains inf or NaN; the dimension of a diverged network is undefined")
    mean = x.mean(axis=0, dtype=np.float64)
    covariance = np.zeros((x.shape[1], x.shape[1]))
    # Accumulate in float64 over slices: the float32 recording may be large.
    for start in range(0, x.shape[0], 20_000):
        centred = x[start:start + 20_000].astype(np.float64) - mean
        covariance += centred.T @ centred
    covariance /= x.shape[0] - 1
    eigenvalues = np.clip(np.linalg.eigvalsh(covariance)[::-1], 0.0, None)  # round-off can go below 0
    total = eigenvalues.sum()
    return eigenvalues / total if total > 0 else np.zeros_like(eigenvalues)


def dimension_from_ratio(ratio: np.ndarray, threshold: float = 0.9) -> int:
    """Smallest k whose first k explained-variance ratios reach ``threshold`` (0 if none varies)."""
    _check_threshold(threshold)
    if not ratio.any():
        return 0
    cumulative = np.cumsum(ratio)
    # A tiny tolerance: k equal components must reach exactly k/k = 1.0 despite round-off.
    return min(int(np.searchsorted(cumulative, threshold - 1e-12, side="left")) + 1, len(ratio))


def pca_dimension(activity: np.ndarray, threshold: float = 0.9) -> int:
    """Number of principal components that explain ``threshold`` of the variance (0 if none varies)."""
    _check_threshold(threshold)
    return dimension_from_ratio(explained_variance_ratio(activity), threshold)


def network_dimension(
    backbone: nn.Module,
    trials: int = 10,
    steps: int = 10_000,
    burn_in: int = 500,
    p: float | None = 0.5,
    threshold: float = 0.9,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Dimension of the network's activity under Bernoulli input (``simulate_activity``).

    Returns ``dimension`` (None if the activity diverged), ``explained`` (the variance
    ratios) and ``components_for`` (dimension at 50/80/90/95/99%).
    """
    _check_threshold(threshold)
    activity, _ = simulate_activity(backbone, trials=trials, steps=steps, burn_in=burn_in, p=p, seed=seed,
                                    progress=progress)
    if not np.isfinite(activity).all():
        return {"dimension": None, "explained": [], "components_for": {}}
    ratio = explained_variance_ratio(activity)  # one eigen-decomposition serves every level
    components_for = {level: dimension_from_ratio(ratio, level) for level in (0.5, 0.8, 0.9, 0.95, 0.99)}
    return {"dimension": dimension_from_ratio(ratio, threshold), "explained": ratio.tolist(),
            "components_for": components_for}


def dimensionality_across_checkpoints(
    models: Sequence[tuple[Path, MemoryTaskModule]],
    trials: int = 10,
    steps: int = 10_000,
    burn_in: int = 500,
    p: float | None = 0.5,
    threshold: float = 0.9,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> AnalysisResult:
    """PCA dimension against the largest N solved: one row per checkpoint (Fig. 6b)."""
    summary, samples = [], []
    for path, model in models:
        ns = model.heads.active_ns()
        n_max = max(ns) if ns else None
        found = network_dimension(model.backbone, trials, steps, burn_in, p, threshold, seed, progress)
        summary.append({
            "condition": n_max, "checkpoint": Path(path).name, "n_max": n_max, "dimension": found["dimension"],
            "neurons": model.backbone.hidden_size,
            **{f"components_{int(level * 100)}": value for level, value in found["components_for"].items()},
        })
        samples += [{"condition": n_max, "component": k + 1, "explained": value}
                    for k, value in enumerate(found["explained"])]
    return AnalysisResult(
        name="dimensionality", summary=summary, samples=samples,
        settings={"trials": trials, "steps": steps, "burn_in": burn_in, "p": p, "threshold": threshold,
                  "seed": seed, "checkpoints": [Path(path).name for path, _ in models]},
        scalars=("dimension",),
    )
