"""Analyses of trained networks: pure functions on arrays, plus thin callbacks/commands around them."""

from rnn_timescales.analysis.autocorrelation import autocorrelation, zero_variance_units
from rnn_timescales.analysis.exponential_fits import (
    TimescaleFits,
    double_exponential,
    exponential,
    fit_timescales,
    information_criteria,
    summarize_fits,
)

__all__ = [
    "autocorrelation",
    "zero_variance_units",
    "TimescaleFits",
    "double_exponential",
    "exponential",
    "fit_timescales",
    "information_criteria",
    "summarize_fits",
]
