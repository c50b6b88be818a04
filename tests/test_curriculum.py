import lightning as L
import pytest
import torch

from rnn_timescales import Curriculum
from rnn_timescales.curriculum import is_solved, next_ns
from rnn_timescales.errors import ConfigError
from rnn_timescales.heads import ReadoutHeads


class RecordBatches(L.Callback):
    def __init__(self):
        self.ns_per_epoch = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        inputs, labels, ns = batch
        assert labels.shape[1] == len(ns) and inputs.shape[0] >= max(ns) + 2
        self.ns_per_epoch.setdefault(trainer.current_epoch, []).append(tuple(ns))


def test_rules():
    assert next_ns("multi", [2, 3]) == [2, 3, 4]
    assert next_ns("single", [3]) == [4]
    assert is_solved({2: 0.99, 3: 0.985}, 0.98)
    assert not is_solved({2: 1.0, 3: 0.97}, 0.98)  # newest head below threshold
    assert not is_solved({2: 0.95, 3: 0.99, 4: 0.98}, 0.98)  # mean below threshold
    assert not is_solved({}, 0.98)


def test_multi_adds_heads_keeps_old_ones_and_next_batch_has_new_n(make_run, tmp_path):
    trainer, model, data, curriculum = make_run(tmp_path, mode="multi", max_epochs=3)
    recorder = RecordBatches()
    trainer.callbacks.append(recorder)
    head_2_before = None
    trainer.fit(model, data)
    assert model.heads.active_ns() == [2, 3, 4, 5]
    assert recorder.ns_per_epoch[0] == [(2,)] * 3
    assert recorder.ns_per_epoch[1] == [(2, 3)] * 3  # the very first batch after the advance
    assert recorder.ns_per_epoch[2] == [(2, 3, 4)] * 3
    assert [event["ns"] for event in curriculum.history] == [[2], [2, 3], [2, 3, 4]]
    files = sorted(p.name for p in (tmp_path / "lightning_logs" / "version_0" / "checkpoints").iterdir())
    assert files == ["N2-N2.ckpt", "N2-N3.ckpt", "N2-N4.ckpt", "last.ckpt"]
    saved = torch.load(tmp_path / "lightning_logs/version_0/checkpoints/N2-N3.ckpt", weights_only=False)
    head_n = saved["state_dict"]["heads.head_n"]
    assert sorted(int(n) for n in head_n if n >= 0) == [2, 3]


def test_single_swaps_n_on_the_same_head(make_run, tmp_path):
    trainer, model, data, curriculum = make_run(tmp_path, mode="single", max_epochs=2)
    trainer.fit(model, data)
    assert model.heads.active_ns() == [4]
    assert model.heads.slots([4]) == [0]


def test_stops_when_final_n_is_solved(make_run, tmp_path):
    trainer, model, data, curriculum = make_run(tmp_path, mode="multi", max_epochs=50, n_final=4)
    trainer.fit(model, data)
    assert curriculum.finished and trainer.current_epoch == 3
    assert model.heads.active_ns() == [2, 3, 4]


def test_not_solved_means_no_advance(make_run, tmp_path):
    trainer, model, data, curriculum = make_run(tmp_path, threshold=1.0, max_epochs=1)
    trainer.fit(model, data)
    assert model.last_val_accuracy[2] < 1.0  # 3 SGD steps on 16 neurons: not perfect yet
    assert model.heads.active_ns() == [2] and curriculum.history == []


class Snapshot(L.Callback):
    def on_train_start(self, trainer, pl_module):
        optimizer = trainer.optimizers[0]
        self.heads = pl_module.heads.active_ns()
        self.momentum = {name: optimizer.state[p]["momentum_buffer"].clone()
                         for name, p in pl_module.named_parameters() if p in optimizer.state}
        self.params = {name: p.detach().clone() for name, p in pl_module.named_parameters()}


def test_resume_restores_ns_heads_and_momentum(make_run, tmp_path):
    trainer, model, data, curriculum = make_run(tmp_path, mode="multi", max_epochs=2)
    trainer.fit(model, data)
    optimizer = trainer.optimizers[0]
    momentum = {name: optimizer.state[p]["momentum_buffer"].clone() for name, p in model.named_parameters()}
    params = {name: p.detach().clone() for name, p in model.named_parameters()}
    assert model.heads.active_ns() == [2, 3, 4]

    trainer2, model2, data2, curriculum2 = make_run(tmp_path, mode="multi", max_epochs=3, seed=123)
    snapshot = Snapshot()
    trainer2.callbacks.append(snapshot)
    last = tmp_path / "lightning_logs/version_0/checkpoints/last.ckpt"
    trainer2.fit(model2, data2, ckpt_path=last)
    assert snapshot.heads == [2, 3, 4]
    assert set(snapshot.momentum) == set(momentum) and "heads.weight" in momentum
    for name in momentum:
        torch.testing.assert_close(snapshot.momentum[name], momentum[name], rtol=0, atol=0)
        torch.testing.assert_close(snapshot.params[name], params[name], rtol=0, atol=0)
    assert len(curriculum2.history) == 3  # history restored (2 events) plus the new advance
    assert data2.passes["train"] == 3


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_start": 1}, "n_start must be >= 2.*got 1"),
        ({"n_start": 5, "n_final": 3}, "n_final must be >= n_start=5, got 3"),
        ({"mode": "zigzag"}, "unknown curriculum mode 'zigzag'; allowed: multi, single"),
        ({"threshold": 0.0}, r"threshold must be in \(0, 1\], got 0.0"),
        ({"threshold": 1.5}, r"threshold must be in \(0, 1\], got 1.5"),
    ],
)
def test_bad_curriculum_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Curriculum(**kwargs)


def test_head_capacity_exceeded_names_n_and_capacity():
    heads = ReadoutHeads(4, capacity=2)
    heads.add(2)
    heads.add(3)
    with pytest.raises(ConfigError, match="cannot add a head for N=4: all 2 heads are in use"):
        heads.add(4)
