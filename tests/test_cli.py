import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnn_timescales.cli import main

TINY = str(Path(__file__).with_name("tiny.yaml"))


def run_cli(args, cwd, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "rnn_timescales.cli", *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})},
    )


def test_fit_writes_config_events_and_checkpoints_then_resumes_from_last(tmp_path):
    first = run_cli(["fit", "--config", TINY], tmp_path)
    assert first.returncode == 0, first.stderr
    run = tmp_path / "lightning_logs" / "version_0"
    assert (run / "config.yaml").exists()
    assert list(run.glob("events.out.tfevents.*"))
    checkpoints = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert checkpoints == ["N2-N2.ckpt", "N2-N3.ckpt", "last.ckpt"]
    assert "[curriculum] solved N=2..3" in first.stderr + first.stdout

    # Speed and process settings may change on resume (Lightning would lay the checkpoint's over them).
    second = run_cli(["fit", "--config", TINY, "--trainer.max_epochs", "3", "--ckpt_path", "last",
                      "--model.backbone.init_args.cpu_batch_blocks", "2", "--model.keep_freed_memory", "false"],
                     tmp_path)
    assert second.returncode == 0, second.stderr
    config = (tmp_path / "lightning_logs/version_1/config.yaml").read_text()
    assert "cpu_batch_blocks: 2" in config and "keep_freed_memory: false" in config
    assert f"resuming from lightning_logs/version_0/checkpoints/last.ckpt" in second.stderr
    # The resumed run starts at N=2..4 (where the first stopped) and solves it in its one epoch.
    assert "[curriculum] solved N=2..4" in second.stderr + second.stdout
    resumed = torch.load(tmp_path / "lightning_logs/version_1/checkpoints/last.ckpt", weights_only=False)
    assert resumed["hyper_parameters"]["backbone"]["init_args"]["cpu_batch_blocks"] == 2
    head_n = resumed["state_dict"]["heads.head_n"]
    assert sorted(int(n) for n in head_n if n >= 0) == [2, 3, 4, 5]


def test_resume_without_a_run_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", TINY, "--ckpt_path", "last"])
    assert exit_info.value.code == 2
    assert "--ckpt_path last: no lightning_logs/*/checkpoints/last.ckpt under" in capsys.readouterr().err


def test_resuming_into_a_differently_built_model_or_a_bad_file_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main(["fit", "--config", TINY, "--trainer.max_epochs", "1"])
    capsys.readouterr()
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "authors_N2_N3.pt").write_bytes(b"")
    torch.save({"state_dict": {"parameterlist.0": torch.ones(3)}}, tmp_path / "rnn_N2_N3.pt")
    cases = [
        (["--ckpt_path", "last", "--model.backbone.init_args.hidden_size", "32"],
         "the checkpoint was trained with LeakyRNN(hidden_size=16"),
        (["--ckpt_path", "missing.ckpt"], "checkpoint 'missing.ckpt' does not exist or is not a file"),
        (["--ckpt_path", "empty.ckpt"], "cannot read checkpoint 'empty.ckpt'"),
        (["--ckpt_path", "rnn_N2_N3.pt"], "'rnn_N2_N3.pt' is not a training checkpoint of rnn-timescales"),
    ]
    for args, message in cases:
        with pytest.raises(SystemExit) as exit_info:
            main(["fit", "--config", TINY, *args])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and message in err[-1], (args, err)
    assert (tmp_path / "lightning_logs/version_0/checkpoints/last.ckpt").exists()  # nothing saved is lost


@pytest.mark.parametrize(
    "args, message",
    [
        (["--curriculum.n_start", "1"], "n_start must be >= 2 (N=1 needs no memory), got 1"),
        (["--curriculum.n_start", "5", "--curriculum.n_final", "3"], "n_final must be >= n_start=5, got 3"),
        (["--data.task", "xor"], "Expected a typing.Literal['parity', 'dms']. Got value: xor"),
        (["--curriculum.mode", "zigzag"], "Expected a typing.Literal['multi', 'single']. Got value: zigzag"),
        (["--model.backbone.init_args.tau", "0.5"], "a fixed tau must be >= 1 (1 = memory-less neuron), got 0.5"),
        (["--model.backbone.init_args.hidden_size", "0"], "hidden_size must be >= 1, got 0"),
        (["--data.batch_size", "0"], "data.batch_size must be >= 1, got 0"),
        (["--curriculum.threshold", "0"], "threshold must be in (0, 1], got 0.0"),
        (["--curriculum.threshold", "1.01"], "threshold must be in (0, 1], got 1.01"),
        (["--model.head_capacity", "3", "--curriculum.n_final", "10"],
         "head capacity 3 cannot hold N=2..10 in multi mode (9 heads)"),
        (["--model.lr", "-1"], "model.lr must be > 0, got -1.0"),
        (["--model.momentum", "-0.5"], "model.momentum must be in [0, 1), got -0.5"),
        (["--model.backbone.init_args.negative_slope", "5"], "negative_slope must be in [0, 1], got 5.0"),
        (["--model.backbone.init_args.input_size", "2"], "backbone input_size must be 1, got 2"),
        (["--trainer.max_epochs", "-5"], "`max_epochs` must be a non-negative integer or -1"),
        (["--seed_everything", "-1"], "seed_everything must be true, false or an integer in 0..4294967295, got -1"),
    ],
)
def test_bad_input_gives_one_line_error_and_exit_2(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", TINY, *args])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rnn-timescales: error: ") and message in err[0], err


def test_ddp_two_cpu_processes_advance_together_and_end_identical(tmp_path):
    probe_dir = tmp_path / "ranks"
    probe_dir.mkdir()
    result = run_cli(
        [
            "fit", "--config", TINY,
            "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
            "--trainer.callbacks+=ddp_probe.SaveRankState", f"--trainer.callbacks.folder={probe_dir}",
        ],
        tmp_path,
        env={"PYTHONPATH": str(Path(__file__).parent)},
        timeout=240,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "unused parameters" not in result.stderr
    rank0, rank1 = (torch.load(probe_dir / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert rank0["world_size"] == rank1["world_size"] == 2
    assert rank0["active_ns"] == rank1["active_ns"] == [2, 3, 4]  # two advances on both ranks
    for key, value in rank0.items():
        if isinstance(value, torch.Tensor):
            torch.testing.assert_close(rank1[key], value, rtol=0, atol=0, msg=key)
