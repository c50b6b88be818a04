from pathlib import Path

import pytest
import torch

from rnn_timescales import LeakyRNN, MemoryTaskModule
from rnn_timescales.checkpoints import export_authors_state, load_model
from rnn_timescales.errors import ConfigError
from rnn_timescales.evaluation import head_accuracy

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference_checkpoints"


def authors_style_model(hidden=12, heads=5, trained=(2, 3, 4)):
    torch.manual_seed(0)
    model = MemoryTaskModule(LeakyRNN(hidden, negative_slope=0.01), head_capacity=heads)
    with torch.no_grad():
        model.backbone.tau.uniform_(0.5, 3.0)  # raw values, some below 1 as in the original files
    for n in trained:
        model.heads.add(n)
    return model


def test_importer_round_trips_a_synthetic_file_exactly(tmp_path):
    model = authors_style_model()
    exported = export_authors_state(model)
    assert set(exported["state_dict"]) == {"parameterlist.0", "modulelist.0.weight", "modulelist.0.bias",
                                           "modulelist.1.weight", "modulelist.1.bias"} | {
        f"modulelist.{k}.{p}" for k in range(2, 7) for p in ("weight", "bias")}
    path = tmp_path / "rnn_N2_N4.pt"
    torch.save(exported, path)
    loaded = load_model(path)
    assert loaded.heads.active_ns() == [2, 3, 4] and loaded.heads.slots([2, 3, 4]) == [0, 1, 2]
    assert loaded.backbone.negative_slope == 0.01
    for key, value in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0, msg=key)
    again = export_authors_state(loaded)["state_dict"]
    for key, value in exported["state_dict"].items():
        assert torch.equal(again[key], value), key
    s = torch.randint(0, 2, (9, 4, 1)).float()
    r0 = torch.rand(4, 12)
    torch.testing.assert_close(loaded.backbone(s, r0), model.backbone(s, r0), rtol=0, atol=0)


def test_single_head_file_name_maps_head_zero(tmp_path):
    path = tmp_path / "rnn_N7_N7.pt"
    torch.save(export_authors_state(authors_style_model(trained=(7,))), path)
    assert load_model(path).heads.active_ns() == [7]


def test_unreadable_or_foreign_files_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_model(tmp_path / "missing.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="cannot read checkpoint"):
        load_model(tmp_path / "junk.ckpt")
    torch.save({"state_dict": export_authors_state(authors_style_model())["state_dict"]}, tmp_path / "weights.pt")
    with pytest.raises(ConfigError, match="cannot tell the trained Ns from the file name 'weights.pt'"):
        load_model(tmp_path / "weights.pt")
    assert load_model(tmp_path / "weights.pt", ns=[5, 6]).heads.active_ns() == [5, 6]


def test_own_checkpoint_loads_without_the_training_code(make_run, tmp_path):
    trainer, model, data, _ = make_run(tmp_path, max_epochs=2)
    trainer.fit(model, data)
    loaded = load_model(tmp_path / "lightning_logs/version_0/checkpoints/N2-N3.ckpt")
    assert loaded.heads.active_ns() == [2, 3] and loaded.backbone.hidden_size == 16


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"authors' reference checkpoints not found at {REFERENCE}")
@pytest.mark.parametrize(
    "relative, ns, minimum, tau_mean",
    [("multihead_parity/rnn_N2_N11.pt", list(range(2, 12)), 0.99, 1.39),
     ("singlehead_parity/rnn_N11_N11.pt", [11], 0.98, 1.43)],
)
def test_authors_reference_checkpoints_reach_their_stated_accuracy(relative, ns, minimum, tau_mean):
    model = load_model(REFERENCE / relative)
    assert model.heads.active_ns() == ns
    accuracy = head_accuracy(model, "parity", batches=10, batch_size=256, seed=0)
    assert all(value >= minimum for value in accuracy.values()), accuracy
    tau = model.backbone.effective_tau()
    assert tau.mean().item() == pytest.approx(tau_mean, abs=0.01)
    assert 0.30 <= tau.std().item() <= 0.33
