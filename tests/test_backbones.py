import lightning as L
import pytest
import torch

from rnn_timescales import GRU, LSTM, Curriculum, LeakyRNN, MemoryTaskData, MemoryTaskModule
from rnn_timescales.errors import ConfigError


@pytest.mark.parametrize("backbone", [GRU(16), LSTM(16), LeakyRNN(16, tau=2.0)], ids=["gru", "lstm", "fixed-tau"])
@pytest.mark.parametrize("task", ["parity", "dms"])
def test_every_backbone_trains_through_an_advance_on_both_tasks(backbone, task, tmp_path):
    L.seed_everything(0)
    model = MemoryTaskModule(backbone, head_capacity=4)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    trainer = L.Trainer(
        default_root_dir=tmp_path, max_epochs=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        callbacks=[Curriculum(threshold=0.01, n_final=4, save_checkpoints=False)],
    )
    trainer.fit(model, MemoryTaskData(task=task, batch_size=8, train_batches=3, val_batches=1))
    assert model.heads.active_ns() == [2, 3, 4]
    changed = [k for k, v in model.backbone.state_dict().items() if not torch.equal(v, before[k])]
    assert changed and "tau" not in changed


def test_gated_backbones_have_the_backbone_interface():
    for backbone in (GRU(8), LSTM(8)):
        s = torch.rand(5, 3, 1)
        assert backbone(s).shape == (3, 8) and backbone(s, return_trajectory=True).shape == (5, 3, 8)
    with pytest.raises(ConfigError, match="hidden_size must be >= 1, got 0"):
        GRU(0)
