"""Robustness and structure analyses on networks whose answers are known."""

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from rnn_timescales import LeakyRNN, MemoryTaskModule
from rnn_timescales.analysis.dimensionality import explained_variance_ratio, pca_dimension
from rnn_timescales.analysis.group_stats import compare_groups, significance_stars, ttest
from rnn_timescales.analysis.in_time_accuracy import InTimeSettings, accuracy_in_time, relative_accuracy
from rnn_timescales.analysis.interventions import (
    ablate,
    neurons_by_tau,
    perturb_tau,
    perturb_w_rec,
    scale_inhibition,
)
from rnn_timescales.analysis.results import AnalysisResult
from rnn_timescales.analysis.retraining import TrainingSettings, retrain_readout, train_on_n, with_fresh_head
from rnn_timescales.analysis.robustness import (
    ablation_analysis,
    inhibition_analysis,
    log_grid,
    perturbation_analysis,
)
from rnn_timescales.errors import ConfigError
from rnn_timescales.tasks import labels_in_time

FAST = InTimeSettings(trials=4, steps=300, burn_in=20, seed=3)


def exact_parity_net(hidden=6):
    """A leaky RNN that answers 2-parity exactly at every step (all tau = 1).

    a(t) = s(t), c(t) = a(t-1) = s(t-1), h(t) = phi(a(t-1) + s(t) - 1) (the AND, -0.1 for 0,0).
    parity = a + c - 2h: 0.2, 1, 1, 0 for (0,0), (1,0), (0,1), (1,1); the head thresholds at 0.5.
    Neurons 3.. are driven by the input and feed nothing, with tau > 1 (something to ablate).
    """
    backbone = LeakyRNN(hidden_size=hidden, negative_slope=0.1, init_state="zeros")
    model = MemoryTaskModule(backbone, head_capacity=3)
    a, c, h = 0, 1, 2
    with torch.no_grad():
        for p in (backbone.w_rec, backbone.b_rec, backbone.w_in, backbone.b_in, model.heads.weight, model.heads.bias):
            p.zero_()
        backbone.tau.copy_(torch.tensor([1.0, 1.0, 1.0] + [2.0 + k for k in range(hidden - 3)]))
        backbone.w_in[a, 0] = 1.0
        backbone.w_in[h, 0] = 1.0
        backbone.w_in[3:, 0] = 0.5
        backbone.b_in[h] = -1.0
        backbone.w_rec[c, a] = 1.0
        backbone.w_rec[h, a] = 1.0
        slot = model.heads.add(2)
        model.heads.weight[slot, 1, [a, c, h]] = torch.tensor([1.0, 1.0, -2.0])
        model.heads.bias[slot, 1] = -0.5
    return model.eval()


def random_net(hidden=16, seed=0, ns=(2, 3)):
    torch.manual_seed(seed)
    model = MemoryTaskModule(LeakyRNN(hidden_size=hidden), head_capacity=4)
    for n in ns:
        model.heads.add(n)
    return model.eval()


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


# ---------------------------------------------------------------- accuracy in time


def test_exact_network_scores_one_and_relative_accuracy_is_one():
    model = exact_parity_net()
    measured = accuracy_in_time(model, FAST)
    assert measured.per_trial.tolist() == [1.0] * FAST.trials
    assert measured.n == 2 and measured.n_diverged == 0
    assert relative_accuracy(measured.per_trial, measured.mean).tolist() == [1.0] * FAST.trials


def test_constant_output_scores_the_label_frequency_and_relative_accuracy_near_zero():
    model = exact_parity_net()
    settings = InTimeSettings(trials=10, steps=1000, burn_in=100, seed=5)
    base = accuracy_in_time(model, settings).mean
    with torch.no_grad():
        model.heads.weight.zero_()
        model.heads.bias[0] = torch.tensor([1.0, 0.0])  # always class 0
    measured = accuracy_in_time(model, settings)
    # The same streams, rebuilt: the answer "0" is right exactly where the label is 0.
    generator = torch.Generator().manual_seed(settings.seed)
    bits = torch.bernoulli(torch.full((settings.trials,), 0.5).expand(1100, settings.trials), generator=generator)
    zeros = (labels_in_time("parity", bits, 2)[100:] == 0).double().mean(0).numpy()
    np.testing.assert_allclose(measured.per_trial, zeros, rtol=0, atol=1e-12)
    rel = relative_accuracy(measured.mean, base)
    assert rel == pytest.approx(2 * zeros.mean() - 1, abs=1e-12)
    assert abs(rel) < 0.03  # 10,000 fair labels: 3 sigma is 0.03
    assert relative_accuracy(0.5, base) == 0.0
    assert math.isnan(relative_accuracy(0.7, 0.5))  # a base at chance has no acc_rel


def test_nan_logits_score_chance_and_count_as_diverged():
    model = exact_parity_net()
    with torch.no_grad():
        model.heads.weight[0, 1, 0] = float("nan")  # argmax would say class 1 everywhere
    measured = accuracy_in_time(model, FAST)
    assert measured.per_trial.tolist() == [0.5] * FAST.trials
    assert measured.n_diverged == FAST.trials


def test_missing_head_and_short_streams_are_config_errors():
    model = exact_parity_net()
    with pytest.raises(ConfigError, match=r"no head for N=7; heads exist for N=\[2\]"):
        accuracy_in_time(model, InTimeSettings(n=7))
    with pytest.raises(ConfigError, match="trials must be >= 1, got 0"):
        InTimeSettings(trials=0)
    with pytest.raises(ConfigError, match="unknown task 'xor'"):
        InTimeSettings(task="xor")


# ---------------------------------------------------------------- ablation


def test_ablation_removes_every_trace_of_the_neuron_and_nothing_else():
    model = random_net(hidden=8, ns=(2, 3))
    before = state(model)
    neuron = 5
    ablated = ablate(model, [neuron])
    after = ablated.state_dict()
    for key, old in before.items():
        torch.testing.assert_close(model.state_dict()[key], old, rtol=0, atol=0)  # input untouched
    expected_zero = {
        "backbone.w_rec": lambda t: (t[neuron, :], t[:, neuron]),
        "backbone.w_in": lambda t: (t[neuron],),
        "backbone.b_in": lambda t: (t[neuron],),
        "backbone.b_rec": lambda t: (t[neuron],),
        "heads.weight": lambda t: (t[:, :, neuron],),  # every slot, not only head 0
    }
    for key, old in before.items():
        new = after[key]
        changed = new != old
        if key in expected_zero:
            for part in expected_zero[key](new):
                assert (part == 0).all(), key
            mask = torch.zeros_like(changed)
            for part in expected_zero[key](mask):
                part.fill_(True)
            assert not (changed & ~mask).any(), f"{key} changed outside neuron {neuron}"
        else:
            assert not changed.any(), key
    # The other heads really read the neuron before (so "every head" is tested).
    assert (before["heads.weight"][1:3, :, neuron] != 0).all()


def test_ablating_a_used_neuron_breaks_the_exact_network_and_an_unused_one_does_not():
    model = exact_parity_net()
    assert accuracy_in_time(ablate(model, [1]), FAST).mean < 0.9  # c carries s(t-1)
    assert accuracy_in_time(ablate(model, [4, 5]), FAST).mean == 1.0


def test_ablating_zero_neurons_leaves_accuracy_identical():
    model = random_net()
    result = ablation_analysis(model, count=0, settings=FAST)
    rows = {row["condition"]: row for row in result.summary}
    assert rows["longest"]["acc_mean"] == rows["none"]["acc_mean"] == rows["shortest"]["acc_mean"]
    samples = {c: [r["acc"] for r in result.samples if r["condition"] == c] for c in rows}
    assert samples["longest"] == samples["none"]


def test_neurons_by_tau_and_ablation_groups():
    model = exact_parity_net(hidden=8)  # tau = 1, 1, 1, 2, 3, 4, 5, 6
    assert neurons_by_tau(model, 2, "longest") == [7, 6]
    assert neurons_by_tau(model, 2, "shortest") == [0, 1]  # ties broken by index
    result = ablation_analysis(model, count=2, single_neuron=True, settings=FAST)
    rows = {row["condition"]: row for row in result.summary}
    assert rows["longest"]["acc_rel_mean"] == 1.0  # unused slow neurons
    assert rows["shortest"]["acc_rel_mean"] < 0.8  # a and c gone
    assert rows["neuron_2"]["acc_rel_mean"] < 1.0 and rows["neuron_6"]["acc_rel_mean"] == 1.0
    assert [r["tau_rank"] for r in result.summary[3:]] == list(range(8))
    with pytest.raises(ConfigError, match=r"count must be in 0\.\.8 \(the network's neurons\), got 9"):
        ablation_analysis(model, count=9, settings=FAST)
    with pytest.raises(ConfigError, match="count must be >= 0, got -1"):
        ablation_analysis(model, count=-1, settings=FAST)


# ---------------------------------------------------------------- perturbation


def test_zero_perturbation_is_the_identity():
    model = random_net()
    for perturb in (perturb_w_rec, perturb_tau):
        same = perturb(model, 0.0, torch.Generator().manual_seed(1))
        for key, value in model.state_dict().items():
            torch.testing.assert_close(same.state_dict()[key], value, rtol=0, atol=0, msg=key)


@pytest.mark.parametrize("epsilon", [0.01, 0.46, 10.0])
def test_perturbation_norms_are_exact_and_tau_never_drops(epsilon):
    model = random_net(hidden=32)
    with torch.no_grad():
        model.backbone.tau[:5] = 0.7  # stored below 1: the dynamics use 1
    w = model.backbone.effective_w_rec().detach().double()
    tau = model.backbone.effective_tau().detach().double()
    raw = model.backbone.tau.detach().clone()
    new_w = perturb_w_rec(model, epsilon, torch.Generator().manual_seed(2)).backbone
    assert float(torch.linalg.matrix_norm(new_w.effective_w_rec().detach().double() - w)) == pytest.approx(
        epsilon * float(torch.linalg.matrix_norm(w)), rel=1e-5)
    assert (new_w.w_rec.diagonal() == 0).all()
    new_tau = perturb_tau(model, epsilon, torch.Generator().manual_seed(2)).backbone
    assert float(torch.linalg.vector_norm(new_tau.effective_tau().detach().double() - tau)) == pytest.approx(
        epsilon * float(torch.linalg.vector_norm(tau)), rel=1e-5)
    assert (new_tau.tau >= raw).all() and (new_tau.effective_tau() >= tau.float()).all()
    torch.testing.assert_close(model.backbone.tau, raw, rtol=0, atol=0)  # input untouched


def test_strong_perturbation_of_a_large_net_diverges_to_chance_without_error():
    model = random_net(hidden=16)
    with torch.no_grad():
        model.backbone.w_rec.mul_(3.0)
    result = perturbation_analysis(model, "w_rec", [10.0], draws=3, settings=FAST)
    row = result.summary[0]
    assert row["diverged"] == 3 * FAST.trials
    assert row["acc_mean"] == 0.5
    assert row["relative_norm"] == pytest.approx(10.0, rel=1e-6)
    assert all(sample["acc"] == 0.5 for sample in result.samples)


def test_perturbation_grid_defaults_and_bad_values():
    assert len(log_grid(0.01, 10)) == 10 and log_grid(0.01, 10)[-1] == pytest.approx(10.0)
    tau_grid = log_grid(0.001, 2.2)
    assert len(tau_grid) == 11 and tau_grid[1] == pytest.approx(0.001 * 10 ** (1 / 3)) and tau_grid[-1] < 2.2
    with pytest.raises(ConfigError, match="a log grid must start above 0, got start=0.0"):
        log_grid(0.0, 1.0)
    with pytest.raises(ConfigError, match="must stop at or above its start 1.0, got stop=0.1"):
        log_grid(1.0, 0.1)
    model = random_net()
    with pytest.raises(ConfigError, match="epsilon must be a finite number >= 0, got -0.1"):
        perturbation_analysis(model, "tau", [-0.1], settings=FAST)
    with pytest.raises(ConfigError, match="unknown perturbation target 'b_in'; allowed: w_rec, tau"):
        perturbation_analysis(model, "b_in", settings=FAST)


# ---------------------------------------------------------------- inhibition


def test_inhibition_scaling_touches_only_negative_weights():
    model = random_net()
    w = model.backbone.w_rec.detach().clone()
    scaled = scale_inhibition(model, 0.1).backbone.w_rec.detach()
    torch.testing.assert_close(scaled[w >= 0], w[w >= 0], rtol=0, atol=0)
    torch.testing.assert_close(scaled[w < 0], 1.1 * w[w < 0])
    assert (scale_inhibition(model, -1.0).backbone.w_rec >= 0).all()
    with pytest.raises(ConfigError, match="c must be a finite number >= -1, got -1.5"):
        scale_inhibition(model, -1.5)
    result = inhibition_analysis(model, [-0.1, 0.0, 0.1], FAST)
    incoming = [row["incoming_mean"] for row in result.summary]
    assert incoming[0] > incoming[1] > incoming[2]  # less inhibition -> larger mean input
    assert result.summary[1]["acc_mean"] == accuracy_in_time(model, FAST).mean  # c = 0 changes nothing


# ---------------------------------------------------------------- dimensionality


@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_pca_dimension_of_k_equal_sources_is_k(k):
    rng = np.random.default_rng(k)
    sources = rng.standard_normal((3, 4000, k))
    mixing, _ = np.linalg.qr(rng.standard_normal((24, k)))  # orthonormal columns
    activity = (sources @ mixing.T + 2.0).astype(np.float32)
    assert pca_dimension(activity, 0.9) == k
    assert explained_variance_ratio(activity)[:k].sum() == pytest.approx(1.0, abs=1e-5)


def test_pca_dimension_edge_cases():
    assert pca_dimension(np.ones((100, 5))) == 0
    with pytest.raises(ConfigError, match=r"variance threshold must be in \(0, 1\], got 1.5"):
        pca_dimension(np.random.default_rng(0).standard_normal((100, 5)), 1.5)
    with pytest.raises(ValueError, match="inf or NaN"):
        pca_dimension(np.full((10, 3), np.nan))


# ---------------------------------------------------------------- retraining


def test_readout_retraining_leaves_every_frozen_parameter_bit_identical():
    model = random_net(ns=(2,))
    before = state(model)
    training = TrainingSettings(epochs=2, batches=3, batch_size=16, seed=1)
    retrained, row = retrain_readout(model, 3, training, threshold=0.98, settings=FAST)
    for key, value in retrained.backbone.state_dict().items():
        torch.testing.assert_close(value, before[f"backbone.{key}"], rtol=0, atol=0, msg=key)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0, msg=key)  # input untouched
    fresh = with_fresh_head(model, 3, training.seed)
    assert not torch.equal(fresh.heads.weight, retrained.heads.weight)  # the head did train
    assert retrained.heads.active_ns() == [3] and row["epochs"] == 2 and 0 <= row["accuracy"] <= 1


def test_full_retraining_trains_the_backbone_too():
    model = random_net(ns=(2,))
    fresh = with_fresh_head(model, 4, seed=0)
    losses = train_on_n(fresh, "parity", 4, TrainingSettings(epochs=2, batches=2, batch_size=8),
                        list(fresh.parameters()))
    assert len(losses) == 2 and all(np.isfinite(losses))
    assert not torch.equal(fresh.backbone.w_rec, model.backbone.w_rec)
    assert not torch.equal(fresh.backbone.tau, model.backbone.tau)
    with pytest.raises(ConfigError, match="momentum must be in"):
        TrainingSettings(momentum=1.5)


# ---------------------------------------------------------------- group statistics


@pytest.mark.parametrize("p, stars", [
    (0.05, "n/s"), (0.0499999, "*"), (0.01, "*"), (0.00999, "**"), (1e-3, "**"), (9.9e-4, "***"),
    (1e-4, "***"), (9.9e-5, "****"), (1e-5, "****"), (9.9e-6, "*****"), (1e-30, "*****"), (0.7, "n/s"),
    (float("nan"), "n/s"),
])
def test_stars_count_thresholds_strictly_below(p, stars):
    assert significance_stars(p) == stars


def test_ttest_matches_scipy_and_group_files_pool_networks(tmp_path):
    a = [0.91, 0.85, 0.88, 0.95, 0.80, 0.87]
    b = [0.70, 0.75, 0.62, 0.81, 0.66]
    expected = stats.ttest_ind(a, b)
    result = ttest(a, b)
    assert result["t"] == pytest.approx(expected.statistic, rel=1e-12)
    assert result["p"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert result["stars"] == significance_stars(expected.pvalue)
    assert ttest(a, b, equal_var=False)["p"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)

    def write(name, values):
        samples = [{"condition": eps, "draw": k, "acc_rel": v} for eps, vs in values.items() for k, v in enumerate(vs)]
        AnalysisResult("perturbation_w_rec", summary=[], samples=samples).write(tmp_path / name)
        return str(tmp_path / name / "perturbation_w_rec.json")

    files_a = [write("a1", {0.1: a[:3], 1.0: [0.5, 0.4]}), write("a2", {0.1: a[3:], 1.0: [0.45, 0.52]})]
    files_b = [write("b1", {0.1: b[:2], 1.0: [0.3, 0.35]}), write("b2", {0.1: b[2:], 1.0: [0.2, 0.41]})]
    compared = compare_groups(files_a, files_b, "acc_rel")
    rows = {row["condition"]: row for row in compared.summary}
    assert rows[0.1]["p"] == pytest.approx(expected.pvalue, rel=1e-12) and rows[0.1]["n_a"] == 6
    assert rows[1.0]["p"] == pytest.approx(stats.ttest_ind([0.5, 0.4, 0.45, 0.52], [0.3, 0.35, 0.2, 0.41]).pvalue)
    assert compare_groups([tmp_path / "a1"], [tmp_path / "b1"], analysis="perturbation_w_rec").summary
    unknown = "unknown measure 'accuracy' for perturbation_w_rec results; allowed: acc_rel$"
    with pytest.raises(ConfigError, match=unknown):
        compare_groups(files_a, files_b, "accuracy")
    with pytest.raises(ConfigError, match="does not exist"):
        compare_groups([str(tmp_path / "missing.json")], files_b)
    json.loads((tmp_path / "a1" / "perturbation_w_rec.json").read_text())  # valid JSON (no NaN literals)
