"""A callback the DDP test adds to a CLI run: each rank saves what it ended with."""

from pathlib import Path

import lightning as L
import torch


class SaveRankState(L.Callback):
    def __init__(self, folder: str) -> None:
        self.folder = folder

    def on_fit_end(self, trainer, pl_module) -> None:
        state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}
        state["active_ns"] = pl_module.heads.active_ns()
        state["world_size"] = trainer.world_size
        torch.save(state, Path(self.folder) / f"rank{trainer.global_rank}.pt")
