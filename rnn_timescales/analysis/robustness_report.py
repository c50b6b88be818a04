"""The shell around the robustness/structure analyses: files, figures and TensorBoard.

Used by the ``rnn-timescales analyze`` commands and the ``RobustnessAnalysis`` callback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from rnn_timescales.analysis.results import AnalysisResult
from rnn_timescales.analysis.robustness_plots import figures_for


def _tag(condition) -> str:
    return f"{condition:.4g}" if isinstance(condition, float) else str(condition)


def save_result(result: AnalysisResult, folder: str | Path, writer: Any = None, step: int = 0,
                prefix: str = "") -> list[Path]:
    """Write the tables (CSV + JSON) and PNG figures of ``result`` into ``folder``.

    ``writer``: a TensorBoard ``SummaryWriter`` (or Lightning's ``logger.experiment``); it
    receives ``<prefix><name>/<column>/<condition>`` scalars for the result's key
    columns, the figures, and the summary table as text. Returns the files written.
    """
    folder = Path(folder)
    written = result.write(folder)
    figures = figures_for(result)
    for name, figure in figures.items():
        path = folder / f"{name}.png"
        figure.savefig(path, dpi=120)
        written.append(path)
    if writer is not None:
        tag = f"{prefix}{result.name}"
        for row in result.summary:
            for column in result.scalars:
                value = row.get(column)
                if isinstance(value, (int, float)) and value == value:
                    writer.add_scalar(f"{tag}/{column}/{_tag(row['condition'])}", float(value), step)
        for name, figure in figures.items():
            writer.add_figure(f"{prefix}{name}", figure, step, close=False)
        writer.add_text(f"{tag}/table", _markdown(result.summary), step)
    for figure in figures.values():
        plt.close(figure)
    return written


def _markdown(rows: list[dict]) -> str:
    if not rows:
        return "(empty)"
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [f"{row.get(c):.4g}" if isinstance(row.get(c), float) else str(row.get(c)) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
