"""The shell around the pure analyses: run on a model, write files, log to TensorBoard.

Used by the post-fit callback and by ``rnn-timescales analyze`` alike.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import tqdm

from rnn_timescales.analysis.plots import timescale_figures
from rnn_timescales.analysis.timescales import (
    TimescaleSettings,
    network_timescales,
    save_timescale_report,
)
from rnn_timescales.module import MemoryTaskModule

_RANGE = re.compile(r"N(\d+)[-_]N(\d+)")


def run_timescale_analysis(
    model: MemoryTaskModule,
    folder: str | Path,
    settings: TimescaleSettings | None = None,
    writer: Any = None,
    step: int = 0,
    show_progress: bool = True,
) -> dict:
    """Measure tau_net/tau_pop of ``model``; write npz/csv/json/png into ``folder``.

    ``writer``: a TensorBoard ``SummaryWriter`` (or Lightning's ``logger.experiment``)
    that receives histograms, scalars and figures under ``timescales/``.
    Returns the summary dictionary.
    """
    settings = settings or TimescaleSettings()
    folder = Path(folder)
    total = settings.burn_in + settings.steps
    with tqdm(total=total, desc="simulating", unit="step", disable=not show_progress, leave=False) as bar:

        def tick(steps: int) -> None:
            bar.update(steps)
            if bar.n >= total:  # the AC and fits that follow are not simulation time
                bar.close()

        report = network_timescales(model.backbone, settings, progress=tick)
    save_timescale_report(report, folder)
    figures = timescale_figures(report)
    for name, figure in figures.items():
        figure.savefig(folder / f"{name}.png", dpi=120)
    summary = report.summary()
    if writer is not None:
        ok = report.fits.ok
        if np.isfinite(report.tau).any():
            writer.add_histogram("timescales/tau", report.tau, step)
        if ok.any():
            writer.add_histogram("timescales/tau_net", report.fits.tau_net[ok], step)
        for key in ["tau_mean", "tau_std", "tau_net_mean", "tau_net_std", "tau_net_median", "tau_pop",
                    "frac_double_aic", "frac_aic_bic_agree", "n_excluded"]:
            value = summary[key]
            if value == value:  # not NaN
                writer.add_scalar(f"timescales/{key}", value, step)
        for name, figure in figures.items():
            writer.add_figure(f"timescales/{name}", figure, step)
    for figure in figures.values():
        plt.close(figure)
    return summary


def solved_range(path: str | Path) -> tuple[int, int] | None:
    """``(lo, hi)`` from a checkpoint name like ``N2-N7.ckpt`` or ``rnn_N2_N11.pt``."""
    match = _RANGE.search(Path(path).name)
    return (int(match.group(1)), int(match.group(2))) if match else None


def curriculum_checkpoints(folder: str | Path) -> list[Path]:
    """The ``N<lo>-N<hi>.ckpt`` files in ``folder``, in curriculum order."""
    found = [p for p in Path(folder).glob("N*-N*.ckpt") if solved_range(p)]
    return sorted(found, key=lambda p: solved_range(p)[::-1])


def timescales_across_checkpoints(
    models: Sequence[tuple[Path, MemoryTaskModule]],
    folder: str | Path,
    settings: TimescaleSettings | None = None,
    writer: Any = None,
) -> list[dict]:
    """tau, tau_net and tau_pop against the largest solved N: one row per checkpoint.

    Writes ``timescales_vs_N.csv``/``.json``/``.png`` into ``folder`` and each
    checkpoint's full analysis into ``folder/<checkpoint name>/``.
    """
    folder = Path(folder)
    rows = []
    for path, model in tqdm(models, desc="checkpoints", unit="ckpt"):
        n_max = max(model.heads.active_ns()) if model.heads.active_ns() else None
        summary = run_timescale_analysis(model, folder / path.stem, settings, writer=writer,
                                         step=n_max or 0, show_progress=False)
        rows.append({
            "checkpoint": path.name, "n_max": n_max, "tau_mean": summary["tau_mean"],
            "tau_std": summary["tau_std"], "tau_net_mean": summary["tau_net_mean"],
            "tau_net_median": summary["tau_net_median"], "tau_pop": summary["tau_pop"],
            "frac_double_aic": summary["frac_double_aic"], "n_excluded": summary["n_excluded"],
        })
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "timescales_vs_N.csv").open("w", newline="") as handle:
        writer_csv = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["checkpoint"])
        writer_csv.writeheader()
        writer_csv.writerows(rows)
    (folder / "timescales_vs_N.json").write_text(json.dumps(rows, indent=2))
    if rows:
        figure, ax = plt.subplots(figsize=(5, 3.8))
        n = [row["n_max"] for row in rows]
        ax.plot(n, [row["tau_mean"] for row in rows], "o-", label="mean trained tau")
        ax.plot(n, [row["tau_net_median"] for row in rows], "s-", label="median tau_net")
        ax.plot(n, [row["tau_pop"] for row in rows], "^-", label="tau_pop")
        ax.set_xlabel("largest N solved")
        ax.set_ylabel("timescale (steps)")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(folder / "timescales_vs_N.png", dpi=120)
        plt.close(figure)
    return rows
