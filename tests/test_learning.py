import lightning as L

from rnn_timescales import Curriculum, LeakyRNN, MemoryTaskData, MemoryTaskModule


def test_small_leaky_rnn_learns_2_and_3_parity_from_scratch(tmp_path):
    L.seed_everything(0)
    model = MemoryTaskModule(LeakyRNN(hidden_size=64), head_capacity=4)
    data = MemoryTaskData(batch_size=128, train_batches=50, val_batches=10)
    curriculum = Curriculum(mode="multi", n_start=2, n_final=3, save_checkpoints=False)
    trainer = L.Trainer(
        default_root_dir=tmp_path, max_epochs=60, callbacks=[curriculum], gradient_clip_val=2.0,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        enable_checkpointing=False, logger=False,
    )
    trainer.fit(model, data)
    assert curriculum.finished, f"not solved in 60 epochs: {model.last_val_accuracy}"
    assert model.heads.active_ns() == [2, 3]
    assert all(accuracy >= 0.98 for accuracy in model.last_val_accuracy.values())
    assert [event["ns"] for event in curriculum.history] == [[2], [2, 3]]
