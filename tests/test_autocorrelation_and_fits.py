"""Autocorrelation (Eq. 3) and exponential fits on signals whose answers are known."""

import numpy as np
import pytest
from scipy.signal import lfilter

from rnn_timescales.analysis import (
    autocorrelation,
    double_exponential,
    exponential,
    fit_timescales,
    information_criteria,
    summarize_fits,
    zero_variance_units,
)
from rnn_timescales.analysis.exponential_fits import RSS_FLOOR, _fast_component_first


def ar1(rng, tau, trials, T, units=1):
    """Stationary AR(1) with unit variance, x(t) = φ x(t−1) + noise, φ = exp(−1/τ).

    Its autocorrelation is exactly φ^t = exp(−t/τ).
    """
    phi = np.exp(-1.0 / tau)
    noise = rng.standard_normal((trials, T, units)) * np.sqrt(1.0 - phi**2)
    # Start from the stationary distribution so there is no transient.
    state = phi * rng.standard_normal((trials, 1, units))
    return lfilter([1.0], [1.0, -phi], noise, axis=1, zi=state)[0]


def brute_force_eq3(x, max_lag):
    """Eq. 3 written out with explicit loops, averaged over trials."""
    trials, T, units = x.shape
    out = np.zeros((units, max_lag + 1))
    for trial in range(trials):
        for i in range(units):
            r = x[trial, :, i]
            mu = r.mean()
            var = np.mean((r - mu) ** 2)
            for lag in range(max_lag + 1):
                s = sum((r[t] - mu) * (r[t + lag] - mu) for t in range(T - lag))
                out[i, lag] += s / (var * (T - lag)) / trials
    return out


# ----------------------------------------------------------------- autocorrelation


def test_autocorrelation_matches_brute_force_eq3():
    rng = np.random.default_rng(0)
    # Non-zero means and different scales per unit; an AR component so the
    # lags are far from zero.
    x = rng.standard_normal((3, 40, 4)) * [1.0, 5.0, 0.1, 2.0] + [0.0, 3.0, -7.0, 100.0]
    x = x + 0.8 * np.roll(x, 1, axis=1)
    # max_lag = T − 1: the last lag has a single term, and any circular
    # wrap-around from too little zero-padding would show up there first.
    for max_lag in (0, 5, 39):
        np.testing.assert_allclose(autocorrelation(x, max_lag), brute_force_eq3(x, max_lag), rtol=0, atol=1e-10)


def test_autocorrelation_shapes_and_lag0():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 300, 5))
    ac = autocorrelation(x, max_lag=17)
    assert ac.shape == (5, 18)
    assert np.all(ac[:, 0] == 1.0)

    one_trial = autocorrelation(x[0], max_lag=17)
    np.testing.assert_allclose(one_trial, autocorrelation(x[:1], max_lag=17), rtol=0, atol=0)
    one_unit = autocorrelation(x[0, :, 2], max_lag=17)
    assert one_unit.shape == (1, 18)
    np.testing.assert_allclose(one_unit[0], one_trial[2], rtol=0, atol=1e-12)

    # Integer input (e.g. spike counts) is computed in float64 too.
    counts = rng.poisson(3.0, size=(200, 2))
    np.testing.assert_allclose(
        autocorrelation(counts, 10), autocorrelation(counts.astype(float), 10), rtol=0, atol=1e-14
    )

    with pytest.raises(ValueError):
        autocorrelation(x, max_lag=300)
    with pytest.raises(ValueError):
        autocorrelation(np.zeros((2, 3, 4, 5)))


def test_autocorrelation_of_ar1_is_phi_to_the_lag():
    rng = np.random.default_rng(2)
    ac = autocorrelation(ar1(rng, tau=5.0, trials=2, T=50_000, units=3), max_lag=20)
    np.testing.assert_allclose(ac, np.exp(-np.arange(21) / 5.0)[None].repeat(3, 0), atol=0.02)


# -------------------------------------------------------------------------- fits


def test_ar1_single_timescale_recovered_and_chosen():
    tau_true = -1.0 / np.log(0.9)  # ≈ 9.49
    rng = np.random.default_rng(3)
    x = ar1(rng, tau_true, trials=4, T=100_000)
    fits = fit_timescales(autocorrelation(x, max_lag=50))
    assert fits.ok[0]
    # Known limitation of the method: the estimation error of an AC is strongly
    # correlated across lags, so for a pure AR(1) a small slow second
    # component that absorbs it wins AIC in roughly 40% of independent
    # realisations, whatever their length. This seed was checked to be one
    # where it does not; a change to the fits or to AIC can still flip it.
    assert fits.model_aic[0] == 1
    assert abs(fits.tau_net[0] / tau_true - 1) < 0.05
    assert abs(fits.single_params[0, 0] - 1) < 0.02  # AR(1) has no white-noise part: a = 1
    assert fits.r2[0] > 0.99


def test_two_timescales_recovered_and_double_chosen():
    rng = np.random.default_rng(4)
    # Equal-variance sum: AC(t) = 0.5 exp(−t/2) + 0.5 exp(−t/20).
    x = ar1(rng, 2.0, trials=10, T=100_000) + ar1(rng, 20.0, trials=10, T=100_000)
    fits = fit_timescales(autocorrelation(x, max_lag=30))
    assert fits.ok[0]
    assert fits.model_aic[0] == 2
    a, c, tau1, tau2 = fits.double_params[0]
    assert abs(tau1 / 2.0 - 1) < 0.10
    assert abs(tau2 / 20.0 - 1) < 0.10
    assert abs(c - 0.5) < 0.05
    assert fits.tau_net[0] == tau2


def test_double_params_ordered_fast_then_slow():
    # Exact curve with the fast component given second.
    t = np.arange(41)
    y = double_exponential(t, 1.0, 0.3, 25.0, 3.0)
    fits = fit_timescales(y, fit_lags=40)
    a, c, tau1, tau2 = fits.double_params[0]
    assert tau1 <= tau2
    np.testing.assert_allclose([a, c, tau1, tau2], [1.0, 0.7, 3.0, 25.0], rtol=1e-5)
    assert fits.model_aic[0] == 2 and fits.tau_net[0] == pytest.approx(25.0, rel=1e-5)

    # The optimiser rarely ends with the components swapped, so the
    # relabelling is also checked directly: same curve, slow one second.
    swapped = np.array([0.9, 0.3, 25.0, 3.0])
    ordered = _fast_component_first(swapped)
    np.testing.assert_allclose(ordered, [0.9, 0.7, 3.0, 25.0])
    np.testing.assert_allclose(double_exponential(t, *ordered), double_exponential(t, *swapped), rtol=1e-15)
    np.testing.assert_array_equal(_fast_component_first(ordered), ordered)


def test_silent_unit_is_flagged_excluded_and_kept_out_of_the_summary():
    rng = np.random.default_rng(5)
    x = np.concatenate(
        [
            ar1(rng, 3.0, trials=2, T=20_000),
            np.full((2, 20_000, 1), 0.1),  # constant: σ̂² = 0 (0.1 is not exact in binary)
            ar1(rng, 8.0, trials=2, T=20_000),
        ],
        axis=2,
    )
    partly_silent = ar1(rng, 5.0, trials=2, T=20_000)
    partly_silent[1] = -2.0  # constant in the second trial only
    x = np.concatenate([x, partly_silent], axis=2)

    np.testing.assert_array_equal(zero_variance_units(x), [False, True, False, True])
    ac = autocorrelation(x, max_lag=40)
    assert np.isnan(ac[[1, 3]]).all() and np.isfinite(ac[[0, 2]]).all()

    fits = fit_timescales(ac)
    np.testing.assert_array_equal(fits.ok, [True, False, True, False])
    for field in ("tau_net", "r2", "single_params", "double_params", "aic", "bic", "rss"):
        values = getattr(fits, field)
        assert np.isnan(values[[1, 3]]).all(), field
        assert np.isfinite(values[[0, 2]]).all(), field
    np.testing.assert_array_equal(fits.model_aic[[1, 3]], 0)
    np.testing.assert_array_equal(fits.model_bic[[1, 3]], 0)

    summary = summarize_fits(fits)
    assert (summary["n_units"], summary["n_ok"], summary["n_excluded"]) == (4, 2, 2)
    assert np.isfinite(summary["tau_net_mean"])
    assert summary["tau_net_mean"] == pytest.approx(np.mean(fits.tau_net[[0, 2]]), rel=1e-12)
    assert summary["tau_net_median"] == pytest.approx(np.median(fits.tau_net[[0, 2]]), rel=1e-12)
    assert summary["r2_mean"] == pytest.approx(np.mean(fits.r2[[0, 2]]), rel=1e-12)

    # Only the ok mask decides who is counted: a caller may exclude a unit
    # that has finite values (here unit 2), and it must drop out of every statistic.
    fits.ok = fits.ok.copy()
    fits.ok[2] = False
    summary = summarize_fits(fits)
    assert (summary["n_ok"], summary["n_excluded"]) == (1, 3)
    assert summary["tau_net_mean"] == fits.tau_net[0]
    assert summary["r2_mean"] == fits.r2[0]


def test_all_units_silent_gives_nan_statistics_with_counts():
    fits = fit_timescales(np.full((3, 31), np.nan))
    summary = summarize_fits(fits)
    assert (summary["n_ok"], summary["n_excluded"]) == (0, 3)
    assert np.isnan(summary["tau_net_mean"])


# ------------------------------------------------------------- AIC / BIC formulas


def test_information_criteria_on_noiseless_exponential():
    # Both models fit an exact exponential perfectly, so both RSS are at the
    # floor and the criteria differ only by the parameter penalty.
    t = np.arange(31)
    fits = fit_timescales(0.8 * exponential(t, 1.0, 5.0), fit_lags=30)  # normalised: a = 1
    n = 31
    assert np.all(fits.rss[0] < RSS_FLOOR)
    log_term = n * np.log(RSS_FLOOR / n)
    np.testing.assert_allclose(fits.aic[0], [4 + log_term, 8 + log_term], rtol=1e-12)
    np.testing.assert_allclose(fits.bic[0], [2 * np.log(n) + log_term, 4 * np.log(n) + log_term], rtol=1e-12)
    assert fits.model_aic[0] == 1 and fits.model_bic[0] == 1
    np.testing.assert_allclose(fits.single_params[0], [1.0, 5.0], rtol=1e-6)
    assert fits.tau_net[0] == pytest.approx(5.0, rel=1e-6)
    assert fits.r2[0] == pytest.approx(1.0, abs=1e-12)


def test_information_criteria_with_known_nonzero_rss():
    # A flat AC of 1 is best approximated, within the bounds a <= 1 and
    # τ <= tau_max, by a = 1, τ = tau_max for both models (every residual
    # shrinks as a or τ grows), so RSS = Σ_t (1 − exp(−t/tau_max))² exactly.
    n, tau_max = 21, 50.0
    t = np.arange(n)
    rss_expected = np.sum((1 - np.exp(-t / tau_max)) ** 2)
    fits = fit_timescales(np.ones(n), fit_lags=n - 1, tau_max=tau_max)
    np.testing.assert_allclose(fits.rss[0], [rss_expected, rss_expected], rtol=1e-8)
    np.testing.assert_allclose(fits.single_params[0], [1.0, tau_max], rtol=1e-8)
    log_term = n * np.log(rss_expected / n)
    np.testing.assert_allclose(fits.aic[0], [4 + log_term, 8 + log_term], rtol=1e-7)
    np.testing.assert_allclose(fits.bic[0], [2 * np.log(n) + log_term, 4 * np.log(n) + log_term], rtol=1e-7)
    assert fits.model_aic[0] == 1 and fits.model_bic[0] == 1
    assert np.isnan(fits.r2[0])  # y has no variance to explain
    assert summarize_fits(fits)["n_r2_undefined"] == 1

    aic, bic = information_criteria(np.array([0.0, 2.0]), 10, np.array([2, 4]))
    np.testing.assert_allclose(aic, [4 + 10 * np.log(RSS_FLOOR / 10), 8 + 10 * np.log(0.2)])
    np.testing.assert_allclose(bic, [2 * np.log(10) + 10 * np.log(RSS_FLOOR / 10), 4 * np.log(10) + 10 * np.log(0.2)])
