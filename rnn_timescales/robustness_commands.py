"""The robustness and structure analyses of saved networks as ``rnn-timescales analyze`` commands.

``ablation``, ``perturbation``, ``retrain``, ``readout_retrain``, ``inhibition``,
``connectivity``, ``dimensionality``, ``group_stats`` (paper Sec. 4.3, Appendices H, J-M).

Each command writes a table (``<name>.csv``, ``<name>_samples.csv``, ``<name>.json``),
PNG figures and TensorBoard events into its output folder. Flags come from the
signatures (jsonargparse); ``analyze.py`` lists these functions in ``COMMANDS``.
Heavy imports happen inside the functions so ``--help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from rnn_timescales.errors import ConfigError
from rnn_timescales.tasks import Task


def _models(ckpt_path: str, ns: list[int] | None):
    from rnn_timescales.analyze import _paths
    from rnn_timescales.checkpoints import load_model

    return [(path, load_model(path, ns)) for path in _paths(ckpt_path)]


def _each_network(ckpt_path: str, output_dir: str | None, what: str, ns: list[int] | None) -> Iterator[tuple]:
    """``(path, model, folder)`` for the checkpoint, or for every checkpoint in a folder."""
    from rnn_timescales.analyze import _output_folder

    models = _models(ckpt_path, ns)
    for path, model in models:
        if output_dir and len(models) > 1:
            folder = Path(output_dir) / path.stem
        else:
            folder = _output_folder(path, output_dir, what)
        yield path, model, folder


def _across_folder(ckpt_path: str, output_dir: str | None, what: str) -> Path:
    from rnn_timescales.analyze import _output_folder

    if output_dir:
        return Path(output_dir)
    path = Path(ckpt_path)
    if path.is_dir():
        return path.parent / "analysis" / f"{what}_vs_N"
    return _output_folder(path, None, what)


def _save(result, folder: Path, columns: list[str], rows: list[dict] | None = None) -> None:
    from torch.utils.tensorboard import SummaryWriter

    from rnn_timescales.analysis.robustness_report import save_result

    with SummaryWriter(str(folder)) as writer:
        save_result(result, folder, writer)
    print(_table(result.summary if rows is None else rows, columns))
    print(f"results in {folder}")


def _table(rows: list[dict], columns: list[str]) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return "-" if value is None else str(value)

    body = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[k]) for r in body)) if body else len(c) for k, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)) for r in body]
    return "\n".join(lines)


def _check_network(model, n: int | None, count: int | None = None, leaky: bool = True) -> None:
    """Errors about the network before any progress bar starts (so they stay one line)."""
    from rnn_timescales.analysis.in_time_accuracy import resolve_n
    from rnn_timescales.analysis.interventions import leaky_backbone, neurons_by_tau

    if leaky:  # interventions on tau and W_R; retraining works for any backbone
        leaky_backbone(model)
    resolve_n(model, n)
    if count is not None:
        neurons_by_tau(model, count, "longest")


def _bar(total: int, desc: str, unit: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)


def ablation(
    ckpt_path: str,
    output_dir: str | None = None,
    count: int = 20,
    single_neuron: bool = False,
    task: Task = "parity",
    n: int | None = None,
    trials: int = 10,
    steps: int = 1000,
    burn_in: int = 100,
    seed: int = 0,
    ns: list[int] | None = None,
) -> None:
    """Accuracy after removing the longest- and the shortest-tau neurons (paper Fig. 7a,b, Appendix L).

    Args:
        ckpt_path: a checkpoint, a folder of curriculum checkpoints (each is analysed),
            or an authors' .pt file.
        output_dir: where results go (default: <run>/analysis/<checkpoint>/ablation).
        count: neurons removed per group (paper: 20 of 500).
        single_neuron: also remove every neuron on its own, in order of tau.
        task: parity or dms.
        n: the N whose head is read; default the network's largest.
        trials: input streams (paper: 10).
        steps: scored steps per stream (paper: 1000).
        burn_in: unscored steps first (paper: 100).
        seed: seed of the input streams.
        ns: authors' files only: the N of each trained head if the file name does not say.
    """
    from rnn_timescales.analysis.in_time_accuracy import InTimeSettings
    from rnn_timescales.analysis.robustness import ablation_analysis

    settings = InTimeSettings(task=task, n=n, trials=trials, steps=steps, burn_in=burn_in, seed=seed)
    if count < 0:
        raise ConfigError(f"count must be >= 0, got {count}")
    for path, model, folder in _each_network(ckpt_path, output_dir, "ablation", ns):
        _check_network(model, n, count)
        with _bar(3 + (model.backbone.hidden_size if single_neuron else 0), f"ablation {path.name}", "net") as bar:
            result = ablation_analysis(model, count, single_neuron, settings, progress=bar.update)
        rows = [r for r in result.summary if not str(r["condition"]).startswith("neuron_")]
        print(f"{path.name}: acc_base {result.settings['acc_base']:.4f} on N={result.settings['n']}")
        _save(result, folder, ["condition", "removed", "tau_mean_removed", "acc_mean", "acc_rel_mean",
                               "acc_rel_std", "diverged"], rows)


def perturbation(
    ckpt_path: str,
    output_dir: str | None = None,
    target: Literal["w_rec", "tau", "both"] = "both",
    w_rec_epsilon_min: float = 0.01,
    w_rec_epsilon_max: float = 10.0,
    tau_epsilon_min: float = 0.001,
    tau_epsilon_max: float = 2.2,
    per_decade: int = 3,
    draws: int = 10,
    task: Task = "parity",
    n: int | None = None,
    trials: int = 10,
    steps: int = 1000,
    burn_in: int = 100,
    seed: int = 0,
    ns: list[int] | None = None,
) -> None:
    """Accuracy after random perturbations of W_R and/or tau of relative size epsilon (paper Eq. 4, Fig. 7c,d).

    Args:
        ckpt_path: a checkpoint, a folder of curriculum checkpoints (each is analysed),
            or an authors' .pt file.
        output_dir: where results go (default: <run>/analysis/<checkpoint>/perturbation).
        target: w_rec, tau, or both.
        w_rec_epsilon_min: smallest epsilon for W_R (log grid, > 0).
        w_rec_epsilon_max: largest epsilon for W_R.
        tau_epsilon_min: smallest epsilon for tau (log grid, > 0).
        tau_epsilon_max: largest epsilon for tau.
        per_decade: grid points per decade (paper: 3).
        draws: random directions per epsilon (paper: 10).
        task: parity or dms.
        n: the N whose head is read; default the network's largest.
        trials: input streams per measurement.
        steps: scored steps per stream.
        burn_in: unscored steps first.
        seed: seed of the input streams and of the random directions.
        ns: authors' files only: the N of each trained head if the file name does not say.
    """
    from rnn_timescales.analysis.in_time_accuracy import InTimeSettings
    from rnn_timescales.analysis.robustness import log_grid, perturbation_analysis

    if target not in ("w_rec", "tau", "both"):
        raise ConfigError(f"unknown perturbation target {target!r}; allowed: w_rec, tau, both")
    if draws < 1:
        raise ConfigError(f"draws must be >= 1, got {draws}")
    settings = InTimeSettings(task=task, n=n, trials=trials, steps=steps, burn_in=burn_in, seed=seed)
    targets = ["w_rec", "tau"] if target == "both" else [target]
    grids = {"w_rec": log_grid(w_rec_epsilon_min, w_rec_epsilon_max, per_decade),
             "tau": log_grid(tau_epsilon_min, tau_epsilon_max, per_decade)}
    for path, model, folder in _each_network(ckpt_path, output_dir, "perturbation", ns):
        _check_network(model, n)
        for name in targets:
            with _bar(len(grids[name]) * draws, f"perturb {name} {path.name}", "net") as bar:
                result = perturbation_analysis(model, name, grids[name], draws, settings, seed, progress=bar.update)
            print(f"{path.name}: perturbing {name}, acc_base {result.settings['acc_base']:.4f} "
                  f"on N={result.settings['n']}")
            _save(result, folder, ["epsilon", "acc_mean", "acc_rel_mean", "acc_rel_std", "diverged",
                                   "relative_norm"])


def retrain(
    ckpt_path: str,
    output_dir: str | None = None,
    n_from: int | None = None,
    n_targets: list[int] | None = None,
    epochs: int = 20,
    batches: int = 600,
    batch_size: int = 256,
    lr: float = 0.05,
    momentum: float = 0.1,
    clip: float = 2.0,
    task: Task = "parity",
    trials: int = 10,
    steps: int = 1000,
    burn_in: int = 100,
    seed: int = 0,
    ns: list[int] | None = None,
) -> None:
    """Retrain all weights and a fresh head on higher N' without curriculum (paper Fig. 7e).

    Args:
        ckpt_path: a checkpoint, a folder of curriculum checkpoints (each is analysed),
            or an authors' .pt file.
        output_dir: where results go (default: <run>/analysis/<checkpoint>/retrain).
        n_from: the N the network solves (acc_base is measured on it); default its largest.
        n_targets: the N' to train on; default n_from+1 .. n_from+10.
        epochs: training epochs per N' (paper: 20).
        batches: batches per epoch (paper: 600).
        batch_size: sequences per batch (paper: 256).
        lr: SGD learning rate (Nesterov).
        momentum: Nesterov momentum.
        clip: gradient norm clipping.
        task: parity or dms.
        trials: input streams for the accuracies.
        steps: scored steps per stream.
        burn_in: unscored steps first.
        seed: seed of the fresh heads, the training batches and the test streams.
        ns: authors' files only: the N of each trained head if the file name does not say.
    """
    from rnn_timescales.analysis.in_time_accuracy import InTimeSettings, resolve_n
    from rnn_timescales.analysis.retraining import TrainingSettings, retrain_higher_n

    training = TrainingSettings(epochs=epochs, batches=batches, batch_size=batch_size, lr=lr, momentum=momentum,
                                clip=clip, seed=seed)
    settings = InTimeSettings(task=task, trials=trials, steps=steps, burn_in=burn_in, seed=seed)
    for path, model, folder in _each_network(ckpt_path, output_dir, "retrain", ns):
        _check_network(model, n_from, leaky=False)
        targets = n_targets if n_targets is not None else list(range(resolve_n(model, n_from) + 1,
                                                                    resolve_n(model, n_from) + 11))
        with _bar(len(targets) * epochs * batches, f"retrain {path.name}", "batch") as bar:
            result = retrain_higher_n(model, targets, n_from, training, settings, progress=bar.update)
        print(f"{path.name}: acc_base {result.settings['acc_base']:.4f} on N={result.settings['n_from']}")
        _save(result, folder, ["n_target", "acc_mean", "acc_rel_mean", "acc_rel_std", "final_loss"])


def readout_retrain(
    ckpt_path: str,
    output_dir: str | None = None,
    n_extra: int = 2,
    n_min: int = 2,
    max_epochs: int = 10,
    batches: int = 600,
    batch_size: int = 256,
    threshold: float = 0.98,
    lr: float = 0.05,
    momentum: float = 0.1,
    clip: float = 2.0,
    task: Task = "parity",
    trials: int = 10,
    steps: int = 1000,
    burn_in: int = 100,
    seed: int = 0,
    ns: list[int] | None = None,
) -> None:
    """Readout-only retraining matrix: networks trained up to N, a fresh head on each N* (paper Appendix H).

    Args:
        ckpt_path: a folder of curriculum checkpoints (N2-N*.ckpt), or one checkpoint.
        output_dir: where results go (default: <run>/analysis/readout_retrain_vs_N).
        n_extra: N* runs up to N + n_extra (paper: 2).
        n_min: smallest N* (paper: 2).
        max_epochs: most epochs per head (paper: 10).
        batches: batches per epoch.
        batch_size: sequences per batch.
        threshold: stop once the accuracy reaches it (paper: 0.98).
        lr: SGD learning rate (Nesterov).
        momentum: Nesterov momentum.
        clip: gradient norm clipping.
        task: parity or dms.
        trials: input streams for the accuracies.
        steps: scored steps per stream.
        burn_in: unscored steps first.
        seed: seed of the fresh heads, the training batches and the test streams.
        ns: authors' files only: the N of each trained head if the file name does not say.
    """
    from rnn_timescales.analysis.in_time_accuracy import InTimeSettings
    from rnn_timescales.analysis.retraining import TrainingSettings, readout_matrix

    training = TrainingSettings(epochs=max_epochs, batches=batches, batch_size=batch_size, lr=lr,
                                momentum=momentum, clip=clip, seed=seed)
    settings = InTimeSettings(task=task, trials=trials, steps=steps, burn_in=burn_in, seed=seed)
    if n_extra < 0:
        raise ConfigError(f"n_extra must be >= 0, got {n_extra}")
    if n_min < 2:
        raise ConfigError(f"n_min must be >= 2 (N=1 needs no memory), got {n_min}")
    models = _models(ckpt_path, ns)
    pairs = sum(max(0, max(m.heads.active_ns() or [0]) + n_extra - n_min + 1) for _, m in models)
    folder = _across_folder(ckpt_path, output_dir, "readout_retrain")
    with _bar(pairs * max_epochs * batches, "readout retraining", "batch") as bar:
        result = readout_matrix(models, n_extra, n_min, training, threshold, settings, progress=bar.update)
    _save(result, folder, ["n_trained", "n_target", "accuracy", "epochs", "reached_threshold"])


def inhibition(
    ckpt_path: str,
    output_dir: str | None = None,
    c_min: float = -0.1,
    c_max: float = 0.1,
    c_steps: int = 11,
    task: Task = "parity",
    n: int | None = None,
    trials: int = 10,
    steps: int = 1000,
    burn_in: int = 100,
    seed: int = 0,
    ns: list[int] | None = None,
) -> None:
    """Activity and accuracy when the negative recurrent weights are scaled by 1 + c (paper Eq. 7, Appendix J).

    Args:
        ckpt_path: a checkpoint, a folder of curriculum checkpoints (each is analysed),
            or an authors' .pt file.
        output_dir: where results go (default: <run>/analysis/<checkpoint>/inhibition).
        c_min: smallest c (>= -1; -1 removes all inhibition).
        c_max: largest c.
        c_steps: values of c, evenly spaced.
        task: parity or dms.
        n: the N whose head is read; default the network's largest.
        trials: input streams per measurement.
        steps: scored steps per stream.
        burn_in: unscored steps first.
        seed: seed of the input streams.
        ns: authors' files only: the N of each trained head if the file name does not say.
    """
    from rnn_timescales.analysis.in_time_accuracy import InTimeSettings
    from rnn_timescales.analysis.robustness import inhibition_analysis, linear_grid

    settings = InTimeSettings(task=task, n=n, trials=trials, steps=steps, burn_in=burn_in, seed=seed)
    scales = linear_grid(c_min, c_max, c_steps)
    if scales[0] < -1:
        raise ConfigError(f"c_min must be >= -1 (below, inhibitory weights would turn excitatory), got {c_min}")
    for path, model, folder in _each_network(ckpt_path, output_dir, "inhibition", ns):
        _check_network(model, n)
        with _bar(len(scales), f"inhibition {path.name}", "net") as bar:
            result = inhibition_analysis(model, scales, settings, progress=bar.update)
        _save(result, folder, ["c", "incoming_mean", "activity_mean", "activity_abs_max", "acc_rel_mean",
                               "diverged"])


def connectivity(ckpt_path: str, output_dir: str | None = None, ns: list[int] | None = None) -> None:
    """Mean incoming recurrent weight per neuron (mean, std over neurons) against N (paper Fig. 6a, S19).

    Args:
        ckpt_path: a folder of curriculum checkpoints (N2-N*.ckpt), or one checkpoint.
        output_dir: where results go (default: <run>/analysis/connectivity_vs_N).
        ns: authors' files only: the N of each trained head if the file name does not say.
    """
    from rnn_timescales.analysis.connectivity import connectivity_across_checkpoints

    models = _models(ckpt_path, ns)
    result = connectivity_across_checkpoints(models)
    _save(result, _across_folder(ckpt_path, output_dir, "connectivity"),
          ["checkpoint", "n_max", "incoming_mean", "incoming_std", "negative_sum_mean", "tau_mean"])


def dimensionality(
    ckpt_path: str,
    output_dir: str | None = None,
    trials: int = 10,
    steps: int = 10_000,
    burn_in: int = 500,
    bit_probability: float | None = 0.5,
    threshold: float = 0.9,
    seed: int = 0,
    ns: list[int] | None = None,
) -> None:
    """Number of principal components explaining 90% of the activity's variance, against N (paper App. K).

    Args:
        ckpt_path: a folder of curriculum checkpoints (N2-N*.ckpt), or one checkpoint.
        output_dir: where results go (default: <run>/analysis/dimensionality_vs_N).
        trials: input realisations.
        steps: recorded steps per trial.
        burn_in: steps dropped at the start of each trial.
        bit_probability: input bit probability; null = one p ~ U(0, 1) per trial.
        threshold: fraction of the variance to explain (paper: 0.9).
        seed: seed of the input.
        ns: authors' files only: the N of each trained head if the file name does not say.
    """
    from rnn_timescales.analysis.dimensionality import dimensionality_across_checkpoints

    if not 0 < threshold <= 1:
        raise ConfigError(f"variance threshold must be in (0, 1], got {threshold}")
    models = _models(ckpt_path, ns)
    with _bar(len(models) * (burn_in + steps), "simulating", "step") as bar:
        result = dimensionality_across_checkpoints(models, trials, steps, burn_in, bit_probability, threshold, seed,
                                                   progress=bar.update)
    _save(result, _across_folder(ckpt_path, output_dir, "dimensionality"),
          ["checkpoint", "n_max", "dimension", "components_50", "components_95"])


def group_stats(
    group_a: list[str],
    group_b: list[str],
    measure: str = "acc_rel",
    analysis: str | None = None,
    labels: list[str] | None = None,
    welch: bool = False,
    output_dir: str | None = None,
) -> None:
    """Two-sided unpaired t-test per condition between two groups of networks (paper Appendix M).

    Args:
        group_a: result .json files of one analysis (or run folders holding exactly one
            <analysis>.json), one per network, e.g. single-head networks.
        group_b: the same for the other group, e.g. multi-head networks.
        measure: the sample column to compare, e.g. acc_rel or acc.
        analysis: the analysis name (ablation, perturbation_w_rec, perturbation_tau,
            retrain_higher_n, inhibition, ...); needed for folders.
        labels: two names for the groups (default: a, b).
        welch: Welch's t-test instead of Student's (pooled variance).
        output_dir: where results go (default: ./analysis/group_stats).
    """
    from rnn_timescales.analysis.group_stats import compare_groups

    labels = labels or ["a", "b"]
    if len(labels) != 2:
        raise ConfigError(f"labels must name exactly two groups, got {labels}")
    result = compare_groups(group_a, group_b, measure, analysis, (labels[0], labels[1]), equal_var=not welch)
    folder = Path(output_dir) if output_dir else Path("analysis") / "group_stats"
    _save(result, folder, ["condition", "n_a", "mean_a", "n_b", "mean_b", "t", "p", "stars"])


ROBUSTNESS_COMMANDS = {
    "ablation": ablation,
    "perturbation": perturbation,
    "retrain": retrain,
    "readout_retrain": readout_retrain,
    "inhibition": inhibition,
    "connectivity": connectivity,
    "dimensionality": dimensionality,
    "group_stats": group_stats,
}
