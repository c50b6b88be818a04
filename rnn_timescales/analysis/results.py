"""The common shape of every robustness/structure analysis result and its files.

An :class:`AnalysisResult` holds two tables:

* ``summary`` - one row per condition (an ablated group, an epsilon, an N', ...), with
  means and standard deviations: the table a person reads (``<name>.csv``);
* ``samples`` - one row per independent sample behind those means (a trial, a random
  draw, a network), the raw values that group statistics pool across networks
  (``<name>_samples.csv``).

Both have a ``condition`` column. ``<name>.json`` holds everything, with NaN and inf
written as ``null`` (JSON has no NaN).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnn_timescales.errors import ConfigError


def _plain(value: Any) -> Any:
    """JSON-safe python values: numpy scalars unwrapped, NaN/inf -> None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class AnalysisResult:
    """Tables of one analysis of one network (or one set of networks).

    Args:
        name: file stem and TensorBoard prefix, e.g. ``"ablation"``, ``"perturbation_w_rec"``.
        summary: one dict per condition; every row has ``condition``.
        samples: one dict per sample; every row has ``condition``.
        settings: the parameters the analysis ran with (recorded in the JSON).
        scalars: summary columns worth a TensorBoard scalar each.
    """

    name: str
    summary: list[dict]
    samples: list[dict] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    scalars: tuple[str, ...] = ()

    def column(self, key: str) -> np.ndarray:
        """One summary column as a float array (None -> NaN)."""
        return np.array([np.nan if row.get(key) is None else row[key] for row in self.summary], dtype=float)

    def to_json(self) -> dict:
        return _plain({"analysis": self.name, "settings": self.settings, "summary": self.summary,
                       "samples": self.samples})

    def write(self, folder: str | Path) -> list[Path]:
        """Write ``<name>.csv``, ``<name>_samples.csv`` (if any) and ``<name>.json``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = [_write_csv(folder / f"{self.name}.csv", self.summary)]
        if self.samples:
            written.append(_write_csv(folder / f"{self.name}_samples.csv", self.samples))
        path = folder / f"{self.name}.json"
        path.write_text(json.dumps(self.to_json(), indent=2))
        written.append(path)
        return written


def _write_csv(path: Path, rows: list[dict]) -> Path:
    columns: list[str] = []
    for row in rows:  # rows of one table may differ (e.g. extra columns for single neurons)
        columns += [key for key in row if key not in columns]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns or ["condition"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None else v) for k, v in _plain(row).items()})
    return path


def read_result(path: str | Path) -> AnalysisResult:
    """An :class:`AnalysisResult` back from its ``.json`` file (None stays None)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"result file {str(path)!r} does not exist or is not a file")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"cannot read result file {str(path)!r}: {error}") from error
    if not isinstance(data, dict) or not {"analysis", "summary"} <= set(data):
        raise ConfigError(f"{str(path)!r} is not a result file of rnn-timescales analyze (no 'analysis'/'summary')")
    return AnalysisResult(name=data["analysis"], summary=data["summary"], samples=data.get("samples", []),
                          settings=data.get("settings", {}))
