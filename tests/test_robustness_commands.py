"""The robustness commands and the post-fit callback, end to end on a tiny trained run."""

import json

import pytest
from conftest import tiny_run

from rnn_timescales.analysis.robustness_callback import RobustnessAnalysis
from rnn_timescales.cli import main

QUICK = ["--trials", "2", "--steps", "60", "--burn_in", "10"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A 16-neuron run (N2-N2, N2-N3, N2-N4 checkpoints) that ran RobustnessAnalysis at its end."""
    root = tmp_path_factory.mktemp("run")
    trainer, model, data, _ = tiny_run(root, max_epochs=3)
    trainer.callbacks.append(RobustnessAnalysis(count=2, draws=2, per_decade=1, trials=2, steps=60, burn_in=10,
                                                dimensionality=True, dimensionality_steps=200))
    trainer.fit(model, data)
    return root / "lightning_logs" / "version_0"


def analyze(*args):
    main(["analyze", *map(str, args)])


def read(folder, name):
    data = json.loads((folder / f"{name}.json").read_text())
    assert (folder / f"{name}.csv").is_file() and list(folder.glob("*.png")), folder
    assert list(folder.glob("events.out.tfevents.*")) or folder.name == "robustness"
    return data


def test_callback_writes_ablation_perturbation_and_dimensionality(run):
    folder = run / "robustness"
    ablation = read(folder, "ablation")
    assert [row["condition"] for row in ablation["summary"]] == ["none", "longest", "shortest"]
    assert ablation["settings"]["n"] == 4  # the largest N the curriculum solved, not the unsolved newest head
    for target, grid in (("w_rec", [0.01, 0.1, 1.0, 10.0]), ("tau", [0.001, 0.01, 0.1, 1.0])):
        result = read(folder, f"perturbation_{target}")
        assert [row["epsilon"] for row in result["summary"]] == pytest.approx(grid)
        assert len(result["samples"]) == 2 * len(grid)
    assert read(folder, "dimensionality")["summary"][0]["dimension"] >= 1
    assert (folder / "ablation.png").is_file() and (folder / "perturbation_tau.png").is_file()


def test_ablation_and_perturbation_commands(run, tmp_path, capsys):
    ckpt = run / "checkpoints" / "N2-N3.ckpt"
    analyze("ablation", "--ckpt_path", ckpt, "--count", 3, "--single_neuron", "true", *QUICK)
    folder = run / "analysis" / "N2-N3" / "ablation"
    summary = read(folder, "ablation")["summary"]
    assert len(summary) == 3 + 16 and summary[0]["condition"] == "none"
    assert "results in" in capsys.readouterr().out
    analyze("perturbation", "--ckpt_path", ckpt, "--output_dir", tmp_path, "--draws", 2, "--per_decade", 1,
            "--w_rec_epsilon_max", 1.0, "--tau_epsilon_max", 0.01, *QUICK)
    assert len(read(tmp_path, "perturbation_w_rec")["summary"]) == 3
    assert len(read(tmp_path, "perturbation_tau")["summary"]) == 2


def test_retraining_commands(run, tmp_path):
    analyze("retrain", "--ckpt_path", run / "checkpoints" / "N2-N3.ckpt", "--output_dir", tmp_path / "up",
            "--n_targets", "[4, 6]", "--epochs", 1, "--batches", 2, "--batch_size", 8, *QUICK)
    rows = read(tmp_path / "up", "retrain_higher_n")["summary"]
    assert [row["n_target"] for row in rows] == [4, 6]
    analyze("readout_retrain", "--ckpt_path", run / "checkpoints", "--output_dir", tmp_path / "matrix",
            "--max_epochs", 1, "--batches", 2, "--batch_size", 8, "--n_extra", 1, *QUICK)
    cells = {(row["n_trained"], row["n_target"]) for row in read(tmp_path / "matrix", "readout_matrix")["summary"]}
    assert cells == {(n, m) for n in (2, 3, 4) for m in range(2, n + 2)}


def test_structure_commands(run, tmp_path):
    analyze("inhibition", "--ckpt_path", run / "checkpoints" / "N2-N4.ckpt", "--output_dir", tmp_path / "inh",
            "--c_steps", 3, *QUICK)
    assert [row["c"] for row in read(tmp_path / "inh", "inhibition")["summary"]] == [-0.1, 0.0, 0.1]
    analyze("connectivity", "--ckpt_path", run / "checkpoints")
    rows = read(run / "analysis" / "connectivity_vs_N", "connectivity")["summary"]
    assert [row["n_max"] for row in rows] == [2, 3, 4]
    analyze("dimensionality", "--ckpt_path", run / "checkpoints", "--output_dir", tmp_path / "dim",
            "--steps", 200, "--trials", 2)
    rows = read(tmp_path / "dim", "dimensionality")["summary"]
    assert [row["n_max"] for row in rows] == [2, 3, 4] and all(1 <= row["dimension"] <= 16 for row in rows)


def test_group_stats_command_on_perturbation_results(run, tmp_path, capsys):
    ckpts = run / "checkpoints"
    for name in ("N2-N2", "N2-N3", "N2-N4"):
        analyze("perturbation", "--ckpt_path", ckpts / f"{name}.ckpt", "--output_dir", tmp_path / name,
                "--target", "tau", "--draws", 3, "--per_decade", 1, "--tau_epsilon_max", 0.1, "--n", 2, *QUICK)
    files = [tmp_path / name / "perturbation_tau.json" for name in ("N2-N2", "N2-N3", "N2-N4")]
    analyze("group_stats", "--group_a", f"[{files[0]}, {files[1]}]", "--group_b", f"[{files[2]}]",
            "--measure", "acc", "--output_dir", tmp_path / "stats")
    rows = read(tmp_path / "stats", "group_stats_perturbation_tau_acc")["summary"]
    assert [row["n_a"] for row in rows] == [6, 6, 6] and [row["n_b"] for row in rows] == [3, 3, 3]
    assert all(row["stars"] == "n/s" or set(row["stars"]) == {"*"} for row in rows)
    with pytest.raises(SystemExit) as exit_info:
        analyze("group_stats", "--group_a", f"[{files[0]}, {files[0]}]", "--group_b", f"[{files[2]}]")
    assert exit_info.value.code == 2
    assert "a group lists the same result more than once" in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["ablation", "--count", "-1"], "count must be >= 0, got -1"),
    (["ablation", "--count", "17"], "count must be in 0..16 (the network's neurons), got 17"),
    (["perturbation", "--w_rec_epsilon_min", "0"], "a log grid must start above 0, got start=0.0"),
    (["perturbation", "--tau_epsilon_max", "0.0001"], "a log grid must stop at or above its start 0.001"),
    (["perturbation", "--per_decade", "1000", "--w_rec_epsilon_max", "1e300"], "at most 1000 allowed"),
    (["ablation", "--n", "9"], "the network has no head for N=9; heads exist for N=[2, 3, 4]"),
    (["inhibition", "--c_min", "-2"], "c_min must be >= -1"),
    (["dimensionality", "--threshold", "0"], "variance threshold must be in (0, 1], got 0.0"),
])
def test_bad_input_is_a_one_line_error(run, args, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        analyze(*args, "--ckpt_path", run / "checkpoints" / "N2-N4.ckpt", "--output_dir", tmp_path, *QUICK[:2])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_missing_files_and_unknown_measure_are_errors(run, tmp_path, capsys):
    with pytest.raises(SystemExit):
        analyze("ablation", "--ckpt_path", tmp_path / "nope.ckpt")
    assert "does not exist" in capsys.readouterr().err
    result = run / "robustness" / "perturbation_w_rec.json"
    with pytest.raises(SystemExit):
        analyze("group_stats", "--group_a", f"[{result}]", "--group_b", f"[{result}]", "--measure", "speed",
                "--output_dir", tmp_path)
    assert "unknown measure 'speed' for perturbation_w_rec results; allowed: acc, acc_rel" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        analyze("group_stats", "--group_a", f"[{tmp_path / 'gone.json'}]", "--group_b", f"[{result}]",
                "--output_dir", tmp_path)
    assert "does not exist" in capsys.readouterr().err
