"""Figures of the robustness and structure analyses (matplotlib Agg, no display needed)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files and TensorBoard only; never open a window

import matplotlib.pyplot as plt
import numpy as np

from rnn_timescales.analysis.results import AnalysisResult


def _samples_of(result: AnalysisResult, condition, key: str) -> np.ndarray:
    return np.array([np.nan if row.get(key) is None else row[key]
                     for row in result.samples if row["condition"] == condition], dtype=float)


def ablation_figures(result: AnalysisResult) -> dict[str, plt.Figure]:
    """Bars of acc_rel (mean +- std over trials, dots = trials) for none/longest/shortest;
    with single-neuron ablations also acc_rel against the neuron's tau."""
    figures = {}
    groups = [row for row in result.summary if row["condition"] in ("none", "longest", "shortest")]
    figure, ax = plt.subplots(figsize=(4.2, 3.6))
    for x, row in enumerate(groups):
        mean, std = row["acc_rel_mean"], row["acc_rel_std"]
        ax.bar(x, np.nan_to_num(mean), yerr=std if std == std else None, color="C0" if x == 0 else f"C{x}", alpha=0.6)
        dots = _samples_of(result, row["condition"], "acc_rel")
        ax.plot(np.full(len(dots), x) + np.linspace(-0.15, 0.15, len(dots)), dots, "k.", ms=3)
    ax.set_xticks(range(len(groups)),
                  [f"{row['condition']}\n({row['removed']} removed)" for row in groups], fontsize=8)
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_ylabel("relative accuracy")
    ax.set_title(f"ablation, N={result.settings.get('n')}", fontsize=9)
    figure.tight_layout()
    figures["ablation"] = figure
    single = [row for row in result.summary if str(row["condition"]).startswith("neuron_")]
    if single:
        tau = np.array([row["tau_mean_removed"] for row in single])
        figure, ax = plt.subplots(figsize=(5, 3.6))
        ax.errorbar(tau, [row["acc_rel_mean"] for row in single], yerr=[row["acc_rel_std"] for row in single],
                    fmt="o", ms=3, lw=0.8)
        ax.set_xlabel("tau of the ablated neuron")
        ax.set_ylabel("relative accuracy")
        ax.set_title("single-neuron ablation", fontsize=9)
        figure.tight_layout()
        figures["ablation_single_neuron"] = figure
    return figures


def perturbation_figures(result: AnalysisResult) -> dict[str, plt.Figure]:
    """acc_rel against epsilon (log axis), mean +- std over draws, dots = draws."""
    epsilon = result.column("epsilon")
    mean, std = result.column("acc_rel_mean"), result.column("acc_rel_std")
    figure, ax = plt.subplots(figsize=(5, 3.6))
    ax.semilogx(epsilon, mean, "o-", label="mean over draws")
    ax.fill_between(epsilon, mean - std, mean + std, alpha=0.25)
    for row in result.summary:
        dots = _samples_of(result, row["condition"], "acc_rel")
        ax.plot(np.full(len(dots), row["epsilon"]), dots, "k.", ms=2)
    ax.axhline(0, color="gray", lw=0.8)
    target = result.settings.get("target", "")
    ax.set_xlabel("perturbation strength epsilon of " + ("W_R" if target == "w_rec" else "tau"))
    ax.set_ylabel("relative accuracy")
    ax.set_title(f"{result.name}, N={result.settings.get('n')}", fontsize=9)
    figure.tight_layout()
    return {result.name: figure}


def retraining_figures(result: AnalysisResult) -> dict[str, plt.Figure]:
    """acc_rel after retraining on each N' (mean +- std over trials)."""
    figure, ax = plt.subplots(figsize=(5, 3.6))
    ax.bar(result.column("n_target"), np.nan_to_num(result.column("acc_rel_mean")),
           yerr=np.nan_to_num(result.column("acc_rel_std")), alpha=0.7)
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel("N' retrained on (no curriculum)")
    ax.set_ylabel("relative accuracy")
    ax.set_title(f"retraining from N={result.settings.get('n_from')}, {result.settings.get('epochs')} epochs",
                 fontsize=9)
    figure.tight_layout()
    return {result.name: figure}


def readout_matrix_figures(result: AnalysisResult) -> dict[str, plt.Figure]:
    """Heat map of accuracy, rows = N trained, columns = N* retrained; blank = not run."""
    trained = sorted({row["n_trained"] for row in result.summary})
    targets = sorted({row["n_target"] for row in result.summary})
    matrix = np.full((len(trained), len(targets)), np.nan)
    for row in result.summary:
        matrix[trained.index(row["n_trained"]), targets.index(row["n_target"])] = row["accuracy"]
    figure, ax = plt.subplots(figsize=(0.4 * len(targets) + 2.5, 0.35 * len(trained) + 2))
    image = ax.imshow(matrix, origin="lower", vmin=0.5, vmax=1.0, cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(targets)), [str(n) for n in targets], fontsize=7)
    ax.set_yticks(range(len(trained)), [str(n) for n in trained], fontsize=7)
    for k, n in enumerate(trained):  # the diagonal N* = N, as the dotted line of Fig. S17
        if n in targets:
            ax.plot(targets.index(n), k, "w+", ms=5)
    ax.set_xlabel("N* (readout retrained)")
    ax.set_ylabel("N (network trained up to)")
    figure.colorbar(image, ax=ax, label="accuracy")
    figure.tight_layout()
    return {result.name: figure}


def inhibition_figures(result: AnalysisResult) -> dict[str, plt.Figure]:
    """Mean activity, largest |activity| (log) and acc_rel against the inhibition scale c."""
    c = result.column("c")
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    axes[0].plot(c, result.column("activity_mean"), "o-")
    axes[0].set_ylabel("mean activity")
    axes[1].semilogy(c, result.column("activity_abs_max"), "o-")
    axes[1].set_ylabel("largest |activity|")
    axes[2].errorbar(c, result.column("acc_rel_mean"), yerr=result.column("acc_rel_std"), fmt="o-")
    axes[2].set_ylabel("relative accuracy")
    for ax in axes:
        ax.set_xlabel("c (negative W_ij scaled by 1 + c)")
    diverged = c[result.column("diverged") > 0]
    for ax in axes:
        for value in diverged:
            ax.axvline(value, color="r", alpha=0.2)
    figure.suptitle(f"inhibition scaling, N={result.settings.get('n')} (red: diverged trials)", fontsize=9)
    figure.tight_layout()
    return {result.name: figure}


def connectivity_figures(result: AnalysisResult) -> dict[str, plt.Figure]:
    """Mean incoming weight per neuron against N (error bars: std over neurons), as Fig. 6a."""
    figure, ax = plt.subplots(figsize=(5, 3.6))
    ax.errorbar(result.column("n_max"), result.column("incoming_mean"), yerr=result.column("incoming_std"), fmt="o-")
    ax.axhline(0, color="gray", lw=0.8)
    ax.set_xlabel("largest N solved")
    ax.set_ylabel("mean incoming weight per neuron")
    figure.tight_layout()
    return {result.name: figure}


def dimensionality_figures(result: AnalysisResult) -> dict[str, plt.Figure]:
    """PCA dimension against N, as Fig. 6b."""
    figure, ax = plt.subplots(figsize=(5, 3.6))
    threshold = result.settings.get("threshold", 0.9)
    ax.plot(result.column("n_max"), result.column("dimension"), "o-")
    ax.set_xlabel("largest N solved")
    ax.set_ylabel(f"PCs for {threshold:.0%} of the variance")
    figure.tight_layout()
    return {result.name: figure}


def group_figures(result: AnalysisResult) -> dict[str, plt.Figure]:
    """Both groups' means +- std per condition with the stars above."""
    labels = result.settings.get("labels", ["a", "b"])
    x = np.arange(len(result.summary))
    figure, ax = plt.subplots(figsize=(max(5, 0.5 * len(x) + 2), 3.6))
    for key, label, shift in (("a", labels[0], -0.15), ("b", labels[1], 0.15)):
        ax.errorbar(x + shift, result.column(f"mean_{key}"), yerr=result.column(f"std_{key}"), fmt="o", label=label)
    for k, row in enumerate(result.summary):  # just above the axes, whatever the data range
        ax.text(k, 1.01, row["stars"], ha="center", va="bottom", fontsize=7, transform=ax.get_xaxis_transform())
    ax.set_xticks(x, [f"{c:.3g}" if isinstance(c, float) else str(c) for c in
                      (row["condition"] for row in result.summary)], rotation=45, fontsize=7)
    ax.set_ylabel(result.settings.get("measure", ""))
    ax.legend(fontsize=8)
    figure.tight_layout()
    return {result.name: figure}


def figures_for(result: AnalysisResult) -> dict[str, plt.Figure]:
    """The figures of any analysis result, by its name."""
    if result.name == "ablation":
        return ablation_figures(result)
    if result.name.startswith("perturbation_"):
        return perturbation_figures(result)
    if result.name == "retrain_higher_n":
        return retraining_figures(result)
    if result.name == "readout_matrix":
        return readout_matrix_figures(result)
    if result.name == "inhibition":
        return inhibition_figures(result)
    if result.name == "connectivity":
        return connectivity_figures(result)
    if result.name == "dimensionality":
        return dimensionality_figures(result)
    if result.name.startswith("group_stats"):
        return group_figures(result)
    return {}
