import lightning as L
import pytest

from rnn_timescales import Curriculum, LeakyRNN, MemoryTaskData, MemoryTaskModule


def tiny_run(tmp_path, mode="multi", threshold=0.01, max_epochs=3, n_final=10, hidden=16, seed=0, **trainer_kwargs):
    """A few-second training run whose curriculum advances at every check (threshold ~ 0)."""
    L.seed_everything(seed)
    model = MemoryTaskModule(LeakyRNN(hidden_size=hidden), head_capacity=10)
    data = MemoryTaskData(batch_size=8, train_batches=3, val_batches=2)
    curriculum = Curriculum(mode=mode, threshold=threshold, n_final=n_final)
    trainer = L.Trainer(
        default_root_dir=tmp_path,
        max_epochs=max_epochs,
        callbacks=[curriculum, L.pytorch.callbacks.ModelCheckpoint(save_last=True, save_top_k=0)],
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
        **trainer_kwargs,
    )
    return trainer, model, data, curriculum


@pytest.fixture
def make_run():
    return tiny_run
