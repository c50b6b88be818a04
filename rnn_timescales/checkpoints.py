"""Load a trained network from any checkpoint: this project's, or the authors' original files.

* This project's ``.ckpt`` files (Lightning checkpoints) record the backbone's class and
  arguments in their hyper-parameters, so ``load_model(path)`` rebuilds the network alone.
* The authors' files (``torch.save({"state_dict": ...})`` from the paper's code) hold
  ``parameterlist.0`` (tau), ``modulelist.0`` (W_I, b_I), ``modulelist.1`` (W_R, b_R) and
  ``modulelist.{2+k}`` (readout head k, 100 stored). Their file names, ``rnn_N<lo>_N<hi>.pt``,
  say which Ns were trained: one head for ``N=hi`` when ``lo == hi`` (single-head), else
  head k answers ``N = lo + k``. Their leaky ReLU had PyTorch's default slope, 0.01.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from pathlib import Path

import torch

from rnn_timescales.backbones import LeakyRNN
from rnn_timescales.errors import ConfigError
from rnn_timescales.module import MemoryTaskModule

AUTHORS_SLOPE = 0.01
_AUTHORS_NAME = re.compile(r"N(\d+)_N(\d+)")


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint dictionary in ``path``; a ConfigError naming the file if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {str(path)!r} does not exist or is not a file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # a truncated or foreign file: say which
        raise ConfigError(f"cannot read checkpoint {str(path)!r}: {error}") from error
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise ConfigError(
            f"{str(path)!r} holds a {type(checkpoint).__name__} without a 'state_dict': "
            "expected a checkpoint of rnn-timescales or of the authors' code"
        )
    return checkpoint


def is_authors_format(checkpoint: dict) -> bool:
    state = checkpoint.get("state_dict", {})
    return "parameterlist.0" in state and "modulelist.1.weight" in state


def load_model(path: str | Path, ns: Sequence[int] | None = None) -> MemoryTaskModule:
    """The network in ``path`` (either format), on the CPU, in eval mode.

    Args:
        path: a ``.ckpt`` written by this project or a ``.pt`` from the authors' code.
        ns: for the authors' files only: the N of each trained head, in head order,
            when the file name does not say it.
    """
    checkpoint = read_checkpoint(path)
    if is_authors_format(checkpoint):
        return import_authors_state(checkpoint["state_dict"], ns if ns is not None else ns_from_name(path))
    if "hyper_parameters" not in checkpoint or "backbone" not in checkpoint["hyper_parameters"]:
        raise ConfigError(
            f"{str(path)!r} is neither an rnn-timescales checkpoint nor one of the authors' files"
        )
    hparams = dict(checkpoint["hyper_parameters"])
    spec = hparams.pop("backbone")
    module_name, _, class_name = spec["class_path"].rpartition(".")
    try:
        backbone_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError) as error:
        raise ConfigError(f"{str(path)!r} names a backbone {spec['class_path']!r} that cannot be imported") from error
    backbone = backbone_class(**spec["init_args"])
    kwargs = {k: hparams[k] for k in ("head_capacity", "lr", "momentum") if k in hparams}
    model = MemoryTaskModule(backbone, **kwargs)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def ns_from_name(path: str | Path) -> list[int]:
    """Trained Ns from an authors' file name ``rnn_N<lo>_N<hi>.pt``."""
    match = _AUTHORS_NAME.search(Path(path).name)
    if not match:
        raise ConfigError(
            f"cannot tell the trained Ns from the file name {Path(path).name!r} "
            "(expected rnn_N<lo>_N<hi>.pt); pass ns explicitly"
        )
    lo, hi = int(match.group(1)), int(match.group(2))
    return [hi] if lo == hi else list(range(lo, hi + 1))


def import_authors_state(state: dict, ns: Sequence[int]) -> MemoryTaskModule:
    """Build this project's model from the authors' state dict; head k answers ``ns[k]``."""
    heads_stored = sum(1 for key in state if re.fullmatch(r"modulelist\.\d+\.weight", key)) - 2
    if len(ns) > heads_stored:
        raise ConfigError(f"{len(ns)} Ns given but the file stores only {heads_stored} heads")
    hidden, inputs = state["modulelist.0.weight"].shape
    backbone = LeakyRNN(hidden, input_size=inputs, negative_slope=AUTHORS_SLOPE)
    model = MemoryTaskModule(backbone, head_capacity=heads_stored)
    with torch.no_grad():
        backbone.tau.copy_(state["parameterlist.0"])
        backbone.w_in.copy_(state["modulelist.0.weight"])
        backbone.b_in.copy_(state["modulelist.0.bias"])
        backbone.w_rec.copy_(state["modulelist.1.weight"])
        backbone.b_rec.copy_(state["modulelist.1.bias"])
        for k in range(heads_stored):
            model.heads.weight[k].copy_(state[f"modulelist.{k + 2}.weight"])
            model.heads.bias[k].copy_(state[f"modulelist.{k + 2}.bias"])
    for n in ns:
        model.heads.add(n)  # slots fill in order: slot k answers ns[k]
    return model.eval()


def export_authors_state(model: MemoryTaskModule) -> dict:
    """The inverse of :func:`import_authors_state` for a ``LeakyRNN`` model (heads in slot order)."""
    backbone = model.backbone
    state = {
        "parameterlist.0": backbone.tau.detach().clone(),
        "modulelist.0.weight": backbone.w_in.detach().clone(),
        "modulelist.0.bias": backbone.b_in.detach().clone(),
        "modulelist.1.weight": backbone.effective_w_rec().detach().clone(),
        "modulelist.1.bias": backbone.b_rec.detach().clone(),
    }
    for k in range(model.heads.capacity):
        state[f"modulelist.{k + 2}.weight"] = model.heads.weight[k].detach().clone()
        state[f"modulelist.{k + 2}.bias"] = model.heads.bias[k].detach().clone()
    return {"state_dict": state}
