"""Two groups of networks compared per condition: two-sided unpaired t-test (paper Appendix M).

The samples of every network of a group are pooled (e.g. 10 perturbation draws x 4
networks = 40 values per group and epsilon), then ``scipy.stats.ttest_ind`` (Student's
t-test with pooled variance by default, as "t-test, two-sided, unpaired"; Welch's on
request).

Stars: one per threshold 5e-2, 1e-2, 1e-3, 1e-4, 1e-5 that p lies strictly *below*
("p-values below ..." in the paper), so p = 0.05 exactly is "n/s" and p = 0.01 exactly
is "*". An undefined p (NaN: fewer than two values in a group, or no variance at all)
is "n/s".
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import stats

from rnn_timescales.analysis.results import AnalysisResult, read_result
from rnn_timescales.errors import ConfigError

STAR_THRESHOLDS = (5e-2, 1e-2, 1e-3, 1e-4, 1e-5)
NOT_SIGNIFICANT = "n/s"
# Sample columns that identify a sample rather than measure it.
_IDENTIFIERS = {"condition", "trial", "draw", "neuron", "tau_rank", "component"}


def significance_stars(p: float) -> str:
    """``"*"`` per threshold in ``STAR_THRESHOLDS`` with ``p < threshold``; ``"n/s"`` if none."""
    if p is None or not math.isfinite(p):
        return NOT_SIGNIFICANT
    count = sum(p < threshold for threshold in STAR_THRESHOLDS)
    return "*" * count if count else NOT_SIGNIFICANT


def ttest(a: Sequence[float], b: Sequence[float], equal_var: bool = True) -> dict:
    """Two-sided unpaired t-test of samples ``a`` against ``b`` with group means, stds (ddof=0) and stars."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]  # e.g. acc_rel of a network at chance: undefined
    if len(a) >= 2 and len(b) >= 2:
        with warnings.catch_warnings():  # identical values: scipy warns and returns NaN, which we report
            warnings.simplefilter("ignore", RuntimeWarning)
            result = stats.ttest_ind(a, b, equal_var=equal_var)
        statistic, p = float(result.statistic), float(result.pvalue)
    else:
        statistic, p = float("nan"), float("nan")
    return {
        "n_a": len(a), "mean_a": float(a.mean()) if len(a) else float("nan"),
        "std_a": float(a.std()) if len(a) else float("nan"),
        "n_b": len(b), "mean_b": float(b.mean()) if len(b) else float("nan"),
        "std_b": float(b.std()) if len(b) else float("nan"),
        "t": statistic, "p": p, "stars": significance_stars(p),
    }


def _find_result(item: str | Path, analysis: str | None) -> Path:
    path = Path(item)
    if path.is_file():
        return path
    if path.is_dir():
        if analysis is None:
            raise ConfigError(f"{str(path)!r} is a folder: name the analysis (e.g. perturbation_w_rec) to look for")
        found = sorted(path.glob(f"**/{analysis}.json"))
        if len(found) != 1:
            raise ConfigError(
                f"expected exactly one {analysis}.json under {str(path)!r}, found {len(found)}"
                + (f": {', '.join(str(p) for p in found[:5])}" if found else "")
            )
        return found[0]
    raise ConfigError(f"result {str(path)!r} does not exist (give a .json result file or a run folder)")


def load_group(items: Sequence[str | Path], analysis: str | None = None) -> tuple[str, list[dict], list[Path]]:
    """The analysis name and pooled sample rows of several result files (or run folders)."""
    if not items:
        raise ConfigError("a group needs at least one result file or run folder")
    paths = [_find_result(item, analysis) for item in items]
    repeated = sorted({str(p) for p in paths if paths.count(p) > 1})
    if repeated:  # one network counted twice would shrink the p-value for nothing
        raise ConfigError(f"a group lists the same result more than once: {', '.join(repeated)}")
    names, rows = set(), []
    for path in paths:
        result = read_result(path)
        names.add(result.name)
        rows += result.samples or result.summary
    if analysis is not None and names != {analysis}:
        raise ConfigError(f"asked for analysis {analysis!r} but the files hold {sorted(names)}")
    if len(names) != 1:
        raise ConfigError(f"a group mixes results of different analyses: {sorted(names)}")
    return names.pop(), rows, paths


def _measures(rows: list[dict]) -> list[str]:
    found: list[str] = []
    for row in rows:
        for key, value in row.items():
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            if numeric and key not in _IDENTIFIERS and key not in found:
                found.append(key)
    return found


def compare_groups(
    group_a: Sequence[str | Path],
    group_b: Sequence[str | Path],
    measure: str = "acc_rel",
    analysis: str | None = None,
    labels: tuple[str, str] = ("a", "b"),
    equal_var: bool = True,
) -> AnalysisResult:
    """Per condition, the t-test of ``measure`` pooled over group A's files against group B's.

    Args:
        group_a, group_b: result ``.json`` files of the same analysis (or run folders in
            which exactly one ``<analysis>.json`` lies).
        measure: a numeric column of the results' samples, e.g. ``acc_rel`` or ``acc``.
        analysis: the analysis name; required for folders, checked for files.
        labels: names of the groups (e.g. ``("single-head", "multi-head")``).
        equal_var: Student's t-test (True) or Welch's (False).
    """
    name_a, rows_a, paths_a = load_group(group_a, analysis)
    name_b, rows_b, paths_b = load_group(group_b, analysis)
    if name_a != name_b:
        raise ConfigError(f"the groups hold different analyses: {name_a!r} and {name_b!r}")
    allowed = [m for m in _measures(rows_a) if m in _measures(rows_b)]
    if measure not in allowed:
        raise ConfigError(f"unknown measure {measure!r} for {name_a} results; allowed: {', '.join(allowed)}")
    conditions: list = []
    for row in rows_a + rows_b:
        if row["condition"] not in conditions:
            conditions.append(row["condition"])
    summary = []
    for condition in conditions:
        a = [row[measure] for row in rows_a if row["condition"] == condition and row.get(measure) is not None]
        b = [row[measure] for row in rows_b if row["condition"] == condition and row.get(measure) is not None]
        summary.append({"condition": condition, **ttest(a, b, equal_var)})
    return AnalysisResult(
        name=f"group_stats_{name_a}_{measure}", summary=summary,
        settings={"analysis": name_a, "measure": measure, "labels": list(labels), "equal_var": equal_var,
                  "group_a": [str(p) for p in paths_a], "group_b": [str(p) for p in paths_b]},
    )
