import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_timescales import LeakyRNN, MemoryTaskModule
from rnn_timescales.analysis.timescales import TimescaleSettings, network_timescales, save_timescale_report

QUICK = dict(trials=4, steps=40_000, burn_in=200)


def linear_leaky_net(taus):
    """W_R = 0 and positive drive: each neuron is an AR(1) process with coefficient 1 - 1/tau."""
    net = LeakyRNN(hidden_size=len(taus), tau=None)
    with torch.no_grad():
        net.w_rec.zero_()
        net.w_in.fill_(1.0)
        net.b_in.fill_(0.5)
        net.b_rec.zero_()
        net.tau.copy_(torch.tensor(taus))
    return net


def test_uncoupled_leaky_neurons_have_tau_net_of_their_leak():
    taus = [1.5, 2.0, 3.0, 5.0, 8.0, 12.0]
    report = network_timescales(linear_leaky_net(taus), TimescaleSettings(**QUICK, min_weight=0.01, p=0.5))
    expected = np.array([-1 / math.log(1 - 1 / tau) for tau in taus])
    assert report.fits.ok.all()
    np.testing.assert_allclose(report.fits.tau_net, expected, rtol=0.05)
    np.testing.assert_allclose(report.tau, taus)
    assert report.summary()["n_excluded"] == 0


def test_silent_neurons_are_flagged_excluded_and_counted(tmp_path):
    net = linear_leaky_net([2.0, 4.0, 3.0])
    with torch.no_grad():
        net.w_in[1] = 0.0  # no input and no recurrence: settles to a constant
        net.tau[1] = 1.0
    report = network_timescales(net, TimescaleSettings(**QUICK, p=0.5, min_weight=0.01))
    summary = report.summary()
    assert report.silent.tolist() == [False, True, False]
    assert not report.fits.ok[1] and summary["n_silent"] == 1 and summary["n_excluded"] == 1
    assert summary["tau_net_mean"] == pytest.approx(np.mean(report.fits.tau_net[[0, 2]]))
    assert math.isfinite(summary["tau_pop"])

    paths = save_timescale_report(report, tmp_path)
    saved = json.loads(paths["json"].read_text())
    assert saved["n_silent"] == 1 and saved["settings"]["steps"] == QUICK["steps"]
    lines = paths["csv"].read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("neuron,tau,tau_net")
    archive = np.load(paths["npz"])
    assert archive["ac"].shape == (3, 201) and archive["population_ac"].shape == (201,)


def test_simulation_is_seeded_and_bit_probability_per_trial():
    from rnn_timescales.analysis.simulate import simulate_activity

    net = LeakyRNN(hidden_size=8)
    a, p_a = simulate_activity(net, trials=3, steps=500, burn_in=10, seed=5, chunk=128)
    b, p_b = simulate_activity(net, trials=3, steps=500, burn_in=10, seed=5, chunk=500)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # chunking does not change the result
    assert np.array_equal(p_a, p_b) and len(set(p_a.round(6))) == 3


def test_analyze_commands_run_on_a_checkpoint_and_a_folder(make_run, tmp_path, capsys):
    from rnn_timescales.cli import main

    trainer, model, data, _ = make_run(tmp_path, max_epochs=2)
    trainer.fit(model, data)
    checkpoints = tmp_path / "lightning_logs/version_0/checkpoints"
    main(["analyze", "accuracy", "--ckpt_path", str(checkpoints / "N2-N3.ckpt"), "--batches", "2"])
    out = capsys.readouterr().out
    assert "N2-N3.ckpt: N=2: " in out and "N=3: " in out and "512 sequences per head" in out

    quick = ["--trials", "2", "--steps", "3000", "--burn_in", "50"]
    main(["analyze", "timescales", "--ckpt_path", str(checkpoints / "N2-N3.ckpt"), *quick])
    folder = tmp_path / "lightning_logs/version_0/analysis/N2-N3/timescales"
    for name in ["timescales.npz", "timescales.csv", "timescales_summary.json", "autocorrelation.png",
                 "tau_vs_tau_net.png"]:
        assert (folder / name).exists(), name
    assert list(folder.glob("events.out.tfevents.*"))

    main(["analyze", "timescales", "--ckpt_path", str(checkpoints), "--output_dir", str(tmp_path / "vsN"), *quick])
    rows = json.loads((tmp_path / "vsN" / "timescales_vs_N.json").read_text())
    assert [row["n_max"] for row in rows] == [2, 3]
    assert (tmp_path / "vsN" / "timescales_vs_N.png").exists()


def test_analyze_bad_input_is_one_line_and_leaves_nothing_behind(make_run, tmp_path, capsys, monkeypatch):
    from rnn_timescales.cli import main

    monkeypatch.chdir(tmp_path)
    trainer, model, data, _ = make_run(tmp_path, max_epochs=1)
    trainer.fit(model, data)
    good = str(tmp_path / "lightning_logs/version_0/checkpoints/N2-N2.ckpt")
    torch.save(torch.ones(3), tmp_path / "tensor.ckpt")
    cases = [
        (["--ckpt_path", "nope.ckpt"], "--ckpt_path 'nope.ckpt' does not exist"),
        (["--ckpt_path", "tensor.ckpt"], "'tensor.ckpt' holds a Tensor without a 'state_dict': expected a "
                                         "checkpoint of rnn-timescales or of the authors' code"),
        (["--ckpt_path", good, "--max_lag", "0"], "fit_lags must be in 4..max_lag = 4..0, got 30"),
        (["--ckpt_path", good, "--steps", "50"], "max_lag must be in 0..steps-1 = 0..49, got 200"),
        (["--ckpt_path", good, "--bit_probability", "2"], "bit probability p must be in [0, 1] or null, got 2.0"),
        (["--ckpt_path", good, "--trials", "0"], "trials must be >= 1, got 0"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["analyze", "timescales", *args])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and err == [f"rnn-timescales: error: {message}"], (args, err)
    assert not (tmp_path / "analysis").exists()
    assert not (tmp_path / "lightning_logs/version_0/analysis").exists()


def test_post_fit_callback_writes_results_and_tensorboard(make_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rnn_timescales.analysis.callbacks import TimescaleAnalysis

    trainer, model, data, _ = make_run(tmp_path, max_epochs=2)
    trainer.callbacks.append(TimescaleAnalysis(trials=2, steps=3000, burn_in=50, per_checkpoint=True))
    trainer.fit(model, data)
    run = tmp_path / "lightning_logs/version_0"
    summary = json.loads((run / "timescales/timescales_summary.json").read_text())
    assert summary["n_units"] == 16
    table = (run / "timescales/per_checkpoint/timescales_vs_N.csv").read_text().splitlines()
    assert len(table) == 3 and table[1].startswith("N2-N2.ckpt,2,")
    events = EventAccumulator(str(next(run.glob("events.out.tfevents.*"))))
    events.Reload()
    assert "timescales/tau_net_mean" in events.Tags()["scalars"]
    assert "timescales/tau_net" in events.Tags()["histograms"]
    assert "timescales/autocorrelation" in events.Tags()["images"]
