"""``rnn-timescales analyze ...``: analyses of any saved network, from the command line.

Each subcommand takes a checkpoint written by this project (``.ckpt``), a folder of
them (a run's ``checkpoints/``), or one of the authors' original files (``.pt``).
Flags come from the function signatures (jsonargparse), so ``--help``,
``--config file.yaml`` and ``--print_config`` work as for ``fit``.
"""

from __future__ import annotations

import json
from pathlib import Path

from rnn_timescales.errors import ConfigError
from rnn_timescales.robustness_commands import ROBUSTNESS_COMMANDS
from rnn_timescales.tasks import Task, check_task


def _paths(ckpt_path: str) -> list[Path]:
    path = Path(ckpt_path)
    if path.is_dir():
        from rnn_timescales.analysis.runner import curriculum_checkpoints

        found = curriculum_checkpoints(path) or sorted(path.glob("*.ckpt")) + sorted(path.glob("*.pt"))
        if not found:
            raise ConfigError(f"no .ckpt or .pt files in folder {ckpt_path!r}")
        return found
    if not path.exists():
        raise ConfigError(f"--ckpt_path {ckpt_path!r} does not exist")
    return [path]


def _output_folder(path: Path, output_dir: str | None, what: str) -> Path:
    if output_dir:
        return Path(output_dir)
    if path.parent.name == "checkpoints":  # inside a run: next to it
        return path.parent.parent / "analysis" / path.stem / what
    return Path("analysis") / path.stem / what  # e.g. the authors' read-only folder


def timescales(
    ckpt_path: str,
    output_dir: str | None = None,
    trials: int = 10,
    steps: int = 100_000,
    burn_in: int = 500,
    bit_probability: float | None = None,
    max_lag: int = 200,
    fit_lags: int = 30,
    min_weight: float = 0.0,
    seed: int = 0,
    ns: list[int] | None = None,
) -> None:
    """Measure tau_net of every neuron and tau_pop (paper Sec. 2) of saved networks.

    Args:
        ckpt_path: a checkpoint, a folder of curriculum checkpoints, or an authors' .pt file.
        output_dir: where results go (default: <run>/analysis/<checkpoint>/timescales, or
            ./analysis/<file>/timescales outside a run).
        trials: input realisations, averaged (paper: 10).
        steps: recorded steps per trial (paper: 100,000).
        burn_in: steps dropped at the start of each trial.
        bit_probability: input bit probability p; omitted = one p ~ U(0, 1) per trial.
        max_lag: AC lags kept.
        fit_lags: lags 0..fit_lags used by the exponential fits.
        min_weight: smallest weight of either component for a double fit to count
            (0 = the paper's plain AIC rule).
        seed: seed of the input.
        ns: authors' files only: the N of each trained head if the file name does not say.
    """
    from torch.utils.tensorboard import SummaryWriter

    from rnn_timescales.analysis.runner import run_timescale_analysis, timescales_across_checkpoints
    from rnn_timescales.analysis.timescales import TimescaleSettings
    from rnn_timescales.checkpoints import load_model

    settings = TimescaleSettings(trials=trials, steps=steps, burn_in=burn_in, p=bit_probability, max_lag=max_lag,
                                 fit_lags=fit_lags, min_weight=min_weight, seed=seed)
    paths = _paths(ckpt_path)
    if len(paths) == 1:
        model = load_model(paths[0], ns)  # before any folder is made: a bad file leaves nothing behind
        folder = _output_folder(paths[0], output_dir, "timescales")
        with SummaryWriter(str(folder)) as writer:
            summary = run_timescale_analysis(model, folder, settings, writer)
        print(json.dumps({k: v for k, v in summary.items() if k != "settings"}, indent=2))
        print(f"results in {folder}")
        return
    folder = Path(output_dir) if output_dir else Path(ckpt_path).parent / "analysis" / "timescales_vs_N"
    models = [(path, load_model(path, ns)) for path in paths]
    with SummaryWriter(str(folder)) as writer:
        rows = timescales_across_checkpoints(models, folder, settings, writer)
    for row in rows:
        print(f"N<= {row['n_max']}: tau mean {row['tau_mean']:.3f}  tau_net median {row['tau_net_median']:.3f}  "
              f"tau_pop {row['tau_pop']:.3f}")
    print(f"results in {folder}")


def accuracy(
    ckpt_path: str,
    task: Task = "parity",
    batches: int = 50,
    batch_size: int = 256,
    seed: int = 0,
    ns: list[int] | None = None,
) -> None:
    """Accuracy of every readout head on fresh sequences (the paper's validation).

    Args:
        ckpt_path: a checkpoint, a folder of checkpoints, or an authors' .pt file.
        task: ``parity`` or ``dms``.
        batches: fresh batches per head.
        batch_size: sequences per batch.
        seed: seed of the sequences.
        ns: authors' files only: the N of each trained head if the file name does not say.
    """
    from rnn_timescales.checkpoints import load_model
    from rnn_timescales.evaluation import head_accuracy

    check_task(task)
    for name, value in [("batches", batches), ("batch_size", batch_size)]:
        if value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    for path in _paths(ckpt_path):
        model = load_model(path, ns)
        result = head_accuracy(model, task, batches=batches, batch_size=batch_size, seed=seed)
        cells = "  ".join(f"N={n}: {a:.4f}" for n, a in result.items())
        print(f"{path.name}: {cells}  (mean {sum(result.values()) / len(result):.4f}, "
              f"{batches * batch_size:,} sequences per head)")


COMMANDS = {"timescales": timescales, "accuracy": accuracy, **ROBUSTNESS_COMMANDS}
